"""CLI: ``earwitness review|cases|notices|evidence|report`` (glue over the package functions).

Every command that changes a record takes ``--actor`` (default ``$EARWITNESS_ACTOR``
or the login name): it is written into the case events.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from datetime import datetime
from pathlib import Path

import click

from earwitness.kernel import output, settings
from earwitness.kernel.store import open_store
from notices import cases as cases_mod
from notices import evidence as evidence_mod
from notices import export as export_mod
from notices import jurisdictions, ledger, letter_lifecycle, letters, lifecycle, report as report_mod, review as review_mod
from notices.exceptions import NoticesError
from earwitness.kernel.store.case_models import Notice


def _actor_default() -> str:
    try:
        return os.environ.get("EARWITNESS_ACTOR") or getpass.getuser()
    except Exception:  # noqa: BLE001  no login name (containers)
        return "cli"


actor_option = click.option("--actor", default=_actor_default, show_default="$EARWITNESS_ACTOR or login",
                            help="Who does this (recorded in the case events).")


def friendly(fn):
    """Expected failures become one-line errors (exit 1), not tracebacks."""
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except NoticesError as exc:
            raise click.ClickException(str(exc)) from exc
    return wrapper


def _store():
    return open_store()


def _t(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t else "-"


# --- review -----------------------------------------------------------------------------------------

@click.group()
def review() -> None:
    """Review detections: confirm (opens a case) or reject (a known false positive)."""


def _work_name(work) -> str:
    return " — ".join(x for x in (work.title, work.artist) if x) or work.id


REVIEW_COLUMNS = [
    output.Column("id", "id"),
    output.Column("score", "score", lambda v: output.number(v, 1)),
    output.Column("platform", "platform"),
    output.Column("work_name", "work", max_width=36),
    output.Column("clip_offset_s", "in clip", lambda v: f"{output.number(v, 1)} s"),
    output.Column("pitch_semitones", "pitch", lambda v: f"{output.signed(v)} st"),
    output.Column("tempo_ratio", "tempo", lambda v: f"x{v:.2f}"),
    output.Column("url", "clip"),
]


@review.command("list")
@click.option("--platform")
@click.option("--work", "work_id")
@click.option("--min-score", type=float)
@click.option("--limit", type=int, default=100, show_default=True)
@output.list_options
@friendly
def review_list(platform, work_id, min_score, limit, fmt) -> None:
    """Detections waiting for review, oldest first (score: README, "The threshold")."""
    with _store().session() as s:
        dets = review_mod.pending(s, platform=platform, work_id=work_id, min_score=min_score, limit=limit)
        rows = [{**d.to_document(), "platform": d.clip.platform, "url": d.clip.url,
                 "work_name": _work_name(d.work)} for d in dets]
    output.print_list(rows, REVIEW_COLUMNS, fmt, noun="pending")


@review.command("show")
@click.argument("detection_id")
@output.show_options
@friendly
def review_show(detection_id, as_json) -> None:
    """One detection with its clip, its work and its case."""
    with _store().session() as s:
        d = review_mod.get_detection(s, detection_id)
        case = cases_mod.case_for_detection(s, d.id)
        doc = {"detection": d.to_document(), "clip": d.clip.to_document(), "work": d.work.to_document(),
               "case": case.id if case else None}

        def lines():
            yield f"detection {d.id}  {d.review_state}"
            yield f"  work     {_work_name(d.work)} [{d.work_id}]"
            yield f"  clip     {d.clip.platform} {d.clip.media_id or ''}  {d.clip.url}"
            yield (f"  match    score {output.number(d.score, 1)}, {output.number(d.duration_s, 1)} s matched, "
                   f"{output.number(d.clip_offset_s, 1)} s into the clip, {output.number(d.ref_offset_s, 1)} s "
                   f"into the work, pitch {output.signed(d.pitch_semitones)} st, tempo x{d.tempo_ratio:.2f}")
            yield f"  case     {case.id + ' (' + case.state + ')' if case else '-'}"

        output.print_show(doc, as_json, lines)


@review.command("confirm")
@click.argument("detection_id")
@click.option("--reason")
@actor_option
@friendly
def review_confirm(detection_id, reason, actor) -> None:
    """Confirm a detection: opens (or joins) the item's case."""
    with _store().session() as s:
        case = review_mod.confirm(s, detection_id, actor=actor, reason=reason)
        click.echo(f"confirmed {detection_id}: case {case.id} ({case.state})")


@review.command("reject")
@click.argument("detection_id")
@click.option("--reason", required=True, help="Why it is a false positive (kept).")
@actor_option
@friendly
def review_reject(detection_id, reason, actor) -> None:
    """Reject a detection; this clip audio and work are never raised together again."""
    with _store().session() as s:
        review_mod.reject(s, detection_id, actor=actor, reason=reason)
        click.echo(f"rejected {detection_id}")


@review.command("auto")
@friendly
def review_auto() -> None:
    """Apply the auto-confirm policy (notices.auto_confirm; off by default)."""
    with _store().session() as s:
        if review_mod.auto_confirm_policy() is None:
            click.echo("auto-confirm is off (notices.auto_confirm.enabled: false)")
            return
        click.echo(f"auto-confirmed {review_mod.auto_confirm(s)}")


# --- cases ------------------------------------------------------------------------------------------

@click.group()
def cases() -> None:
    """Cases: one per infringing item, moved through the declared lifecycle."""


CASE_COLUMNS = [
    output.Column("id", "id"),
    output.Column("state", "state"),
    output.Column("platform", "platform"),
    output.Column("opened_at", "opened", lambda v: (v or "-")[:16].replace("T", " ")),
    output.Column("flags", "flags"),
    output.Column("url", "item"),
]


@cases.command("list")
@click.option("--state", type=click.Choice(lifecycle.STATES))
@click.option("--platform")
@click.option("--overdue", is_flag=True, help="Only cases past the SLA after the notice was sent.")
@output.list_options
@friendly
def cases_list(state, platform, overdue, fmt) -> None:
    """Cases, oldest first; overdue ones and passed dispute deadlines are flagged."""
    with _store().session() as s:
        rows = []
        for c in cases_mod.list_cases(s, state=state, platform=platform, overdue=overdue):
            flags = ["OVERDUE"] if c.is_overdue() else []
            if c.state == "disputed":
                flags.append(f"deadline {_t(c.deadline_at)}" + (" PASSED" if c.deadline_passed() else ""))
            rows.append({**c.to_document(), "work_ids": c.work_ids(), "allowed_events": cases_mod.allowed_events(c),
                         "flags": ", ".join(flags)})
    output.print_list(rows, CASE_COLUMNS, fmt, noun="case(s)")


@cases.command("show")
@click.argument("case_id")
@output.show_options
@friendly
def cases_show(case_id, as_json) -> None:
    """A case: its timeline, evidence and notices."""
    with _store().session() as s:
        c = cases_mod.get_case(s, case_id)
        dets = []
        for d in c.detections:
            b = evidence_mod.bundle_for(s, d.id)
            dets.append({"detection_id": d.id, "work_id": d.work_id, "score": d.score,
                         "clip_offset_s": d.clip_offset_s, "ref_offset_s": d.ref_offset_s,
                         "bundle": b and {"id": b.id, "ledger_seq": b.ledger_seq,
                                          "manifest_sha256": b.manifest_sha256, "timestamped": b.timestamped}})
        doc = {"case": c.to_document(), "allowed_events": cases_mod.allowed_events(c),
               "detections": dets,
               "timeline": [{"seq": e.seq, "at": e.at.isoformat(), "event": e.event, "from": e.from_state,
                             "to": e.to_state, "actor": e.actor, "reason": e.reason, "details": e.details}
                            for e in c.events],
               "notices": [{"id": n.id, "state": n.state, "lang": n.lang, "recipient": n.recipient,
                            "sent_at": n.sent_at} for n in letters.notices_for_case(s, c.id)]}
        if as_json:
            click.echo(output.to_json(doc))
            return
        click.echo(f"case {c.id}  {c.state}{'  OVERDUE' if c.is_overdue() else ''}")
        click.echo(f"  {c.platform} {c.media_id}  {c.url}")
        if c.previous_case_id:
            click.echo(f"  re-upload of case {c.previous_case_id}")
        if c.state == "disputed":
            click.echo(f"  dispute: {c.dispute_basis}, deadline {_t(c.deadline_at)} UTC")
        click.echo(f"  next: {', '.join(doc['allowed_events']) or '(closed)'}")
        click.echo("timeline:")
        for e in doc["timeline"]:
            click.echo(f"  {e['seq']:>3} {e['at'][:19]}  {e['event']:<18} {e['from'] or '-'} -> {e['to']}  "
                       f"by {e['actor']}{': ' + e['reason'] if e['reason'] else ''}")
        click.echo("evidence:")
        for d in dets:
            b = d["bundle"]
            click.echo(f"  {d['detection_id']} {d['work_id']} score {d['score']:.3f}  "
                       + (f"bundle {b['id']} ledger #{b['ledger_seq']} manifest {b['manifest_sha256'][:16]}…"
                          if b else "no bundle yet"))
        click.echo("notices:")
        for n in doc["notices"]:
            click.echo(f"  {n['id']} {n['state']} {n['lang']} to {n['recipient']} sent {_t(n['sent_at'])}")


@cases.command("follow-up")
@click.argument("case_id")
@click.option("--channel", required=True, help="How: email, phone, web form...")
@click.option("--text", required=True, help="What was asked or answered (kept).")
@actor_option
@friendly
def cases_follow_up(case_id, channel, text, actor) -> None:
    """Record a follow-up with the platform on a sent or rejected notice."""
    with _store().session() as s:
        cases_mod.follow_up(s, case_id, channel=channel, text=text, actor=actor)
        click.echo(f"follow-up recorded on {case_id}")


@cases.command("note")
@click.argument("case_id")
@click.argument("text")
@actor_option
@friendly
def cases_note(case_id, text, actor) -> None:
    """Add a note to the case's timeline."""
    with _store().session() as s:
        cases_mod.note(s, case_id, text, actor=actor)
        click.echo(f"noted on {case_id}")


def _event_command(event: str) -> click.Command:
    t = lifecycle.TRANSITIONS[event]

    @actor_option
    @click.option("--reason", required=t.needs_reason, help="Why (recorded).")
    @click.option("--at", "at", help="When it happened (ISO time with zone; default now).")
    @click.argument("case_id")
    @friendly
    def command(case_id, reason, at, actor, **details) -> None:
        with _store().session() as s:
            details = {k: v for k, v in details.items() if v is not None}
            c = cases_mod.apply(s, case_id, event, actor=actor, reason=reason,
                                at=datetime.fromisoformat(at) if at else None, **details)
            extra = f" (deadline {_t(c.deadline_at)} UTC)" if event == "counter_notice" else ""
            click.echo(f"case {c.id}: {event} -> {c.state}{extra}")

    opts = {
        "channel": click.option("--channel", required=True, help="email, web form, post..."),
        "recipient": click.option("--recipient", required=True, help="Who it was sent to."),
        "sent_at": click.option("--sent-at", "sent_at", required=True, help="ISO time with zone."),
        "check": click.option("--check", required=True, help="What showed it gone (e.g. 'HTTP 404 at ...')."),
        "basis": click.option("--basis", type=click.Choice(list(lifecycle.DISPUTE_BASES)),
                              help="Legal basis of the counter-notice period "
                                   "(default: notices.dispute.default_basis for the platform)."),
        "received_at": click.option("--received-at", "received_at", required=True,
                                    help="When the counter-notice was received (ISO, with zone)."),
        "answer": click.option("--answer", required=True, help="What the platform answered (kept)."),
    }
    for key in reversed(t.requires):
        command = opts[key](command)
    return click.command(event.replace("_", "-"), help=f"Event {event}: {t.doc} "
                         f"({', '.join(t.sources)} -> {t.target}).")(command)


for _ev in lifecycle.TRANSITIONS:
    if _ev not in lifecycle.LETTER_ONLY:   # a case is drafted, sent, retracted only with its letter
        cases.add_command(_event_command(_ev))


# --- notices ----------------------------------------------------------------------------------------

@click.group()
def notices() -> None:
    """Notice letters: draft (batched per platform), export, record sending."""


@notices.command("draft")
@click.option("--platform", required=True)
@click.option("--lang", type=click.Choice(list(letters.LANGS)), help="Default: per platform in config.")
@click.option("--jurisdiction", type=click.Choice(list(jurisdictions.JURISDICTIONS)),
              help="Whose law the letter is written under (default: notices.jurisdictions per platform).")
@click.option("--case", "case_ids", multiple=True, help="Only these cases (default: all confirmed).")
@actor_option
@friendly
def notices_draft(platform, lang, jurisdiction, case_ids, actor) -> None:
    """Draft one letter covering the platform's confirmed cases (refuses if an element is missing)."""
    with _store().session() as s:
        n = letters.draft(s, platform=platform, lang=lang, jurisdiction=jurisdiction, actor=actor,
                          case_ids=list(case_ids) or None)
        click.echo(f"notice {n.id}: {letters.summary(n.content)}")


NOTICE_COLUMNS = [
    output.Column("id", "id"),
    output.Column("state", "state"),
    output.Column("revision", "rev"),
    output.Column("platform", "platform"),
    output.Column("lang", "lang"),
    output.Column("cases", "cases", len),
    output.Column("recipient", "to"),
    output.Column("sent_at", "sent", lambda v: (v or "-")[:16].replace("T", " ")),
]


@notices.command("list")
@click.option("--state", type=click.Choice(letter_lifecycle.STATES))
@output.list_options
@friendly
def notices_list(state, fmt) -> None:
    """Notice letters, oldest first: state, revision, platform, language, cases, recipient, when sent."""
    from sqlalchemy import select
    with _store().session() as s:
        q = select(Notice).order_by(Notice.created_at)
        if state:
            q = q.where(Notice.state == state)
        rows = [{k: v for k, v in n.to_document().items() if k != "content"} | {"cases": [c.id for c in n.cases]}
                for n in s.scalars(q)]
    output.print_list(rows, NOTICE_COLUMNS, fmt, noun="notice(s)")


@notices.command("show")
@click.argument("notice_id")
@output.show_options
@friendly
def notices_show(notice_id, as_json) -> None:
    """The letter as plain text (--json: the notice record with its content)."""
    with _store().session() as s:
        n = letters.get_notice(s, notice_id)
        doc = n.to_document() | {"cases": [c.id for c in n.cases]}
        output.print_show(doc, as_json, lambda: [letters.plain_text(n.content)])


@notices.command("export")
@click.argument("notice_id")
@click.option("--format", "fmt", type=click.Choice(export_mod.FORMATS), default="pdf", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True)
@friendly
def notices_export(notice_id, fmt, out_dir) -> None:
    """Write the letter as PDF or DOCX, or a zip with the evidence bundles and a manifest."""
    with _store().session() as s:
        for p in export_mod.export(s, notice_id, fmt, Path(out_dir)):
            click.echo(str(p))


@notices.command("approve")
@click.argument("notice_id")
@actor_option
@friendly
def notices_approve(notice_id, actor) -> None:
    """Approve the letter as it stands (by a named legal user); only an approved letter is sent."""
    with _store().session() as s:
        n = letters.approve(s, notice_id, actor=actor)
        click.echo(f"notice {n.id} approved by {n.approved_by} (content {n.content_sha256[:16]}…)")


@notices.command("retract")
@click.argument("notice_id")
@click.option("--reason", required=True)
@actor_option
@friendly
def notices_retract(notice_id, reason, actor) -> None:
    """Retract a sent letter (refused once any of its cases moved on); its cases close."""
    with _store().session() as s:
        n = letters.retract(s, notice_id, actor=actor, reason=reason)
        click.echo(f"notice {n.id} retracted; {len(n.cases)} case(s) closed")


@notices.command("send")
@click.argument("notice_id")
@click.option("--channel", required=True, help="How you sent it: email, web form, post...")
@click.option("--to", "recipient", required=True, help="The address you sent it to.")
@click.option("--at", "sent_at", required=True, help="When you sent it (ISO time with zone).")
@actor_option
@friendly
def notices_send(notice_id, channel, recipient, sent_at, actor) -> None:
    """Record that YOU sent this approved letter (Earwitness never sends anything itself)."""
    with _store().session() as s:
        n = letters.mark_sent(s, notice_id, actor=actor, channel=channel, recipient=recipient, sent_at=sent_at)
        click.echo(f"notice {n.id} recorded as sent by {channel} to {recipient}; {len(n.cases)} case(s) "
                   f"now notice_sent")


@notices.command("withdraw")
@click.argument("notice_id")
@click.option("--reason", required=True)
@actor_option
@friendly
def notices_withdraw(notice_id, reason, actor) -> None:
    """Withdraw an unsent letter; its cases go back to confirmed."""
    with _store().session() as s:
        letters.withdraw(s, notice_id, actor=actor, reason=reason)
        click.echo(f"notice {notice_id} withdrawn")


# --- evidence ---------------------------------------------------------------------------------------

@click.group()
def evidence() -> None:
    """Evidence bundles and the hash-chained ledger."""


@evidence.command("build")
@click.argument("detection_id")
@friendly
def evidence_build(detection_id) -> None:
    """Bundle a detection's evidence and enter it in the ledger (once)."""
    with _store().session() as s:
        b = evidence_mod.build_bundle(s, detection_id)
        click.echo(f"bundle {b.id}: ledger #{b.ledger_seq} {b.ledger_hash}  manifest {b.manifest_path}")


@evidence.command("verify")
@click.option("--bundle", "bundle_zip", type=click.Path(exists=True, dir_okay=False),
              help="Verify an exported letter zip on its own (no store, no data home needed).")
@click.option("--trust-root", "trust_roots", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM root certificate(s) a time-stamp's signer must chain to (repeatable; default: "
                   "notices.tsa_trust_roots).")
@click.option("--cert", "cert_file", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate of the time-stamp authority to pin, on top of the chain.")
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object.")
@friendly
def evidence_verify(bundle_zip, trust_roots, cert_file, as_json) -> None:
    """Check every ledger entry and evidence file; exit 1 naming each problem.

    Time-stamp tokens count only when their signer chains to a trust root you hold
    (never one the zip brings). Warnings (entries whose transaction rolled back or
    whose writer stopped, a torn last line) are listed but do not fail: they are
    accounted for, not tampering.
    """
    from notices.timestamping import Trust
    home = settings.get().home
    configured = Trust.from_settings(home)
    given = Trust.from_files([Path(p) for p in trust_roots], Path(cert_file) if cert_file else None)
    trust = Trust(given.roots or configured.roots, given.pin or configured.pin)
    if bundle_zip:
        rep = ledger.verify_bundle(Path(bundle_zip), trust)
    else:
        rep = ledger.verify(home, store=_store(), trust=trust)
    if as_json:
        click.echo(output.to_json({"ok": rep.ok, "entries": rep.entries, "files_checked": rep.files_checked,
                    "timestamps_checked": rep.timestamps_checked,
                    "problems": [p.__dict__ for p in rep.problems],
                    "warnings": [p.__dict__ for p in rep.warnings]}))
    else:
        for p in rep.problems:
            click.echo(str(p))
        for p in rep.warnings:
            click.echo(f"warning: {p}")
        click.echo(f"{rep.entries} entries, {rep.files_checked} files, {rep.timestamps_checked} time-stamps: "
                   + ("OK" if rep.ok else f"{len(rep.problems)} problem(s)")
                   + (f", {len(rep.warnings)} warning(s) (interrupted or rolled-back writes, not tampering)"
                      if rep.warnings else ""), err=not rep.ok)
    sys.exit(0 if rep.ok else 1)


# --- report -----------------------------------------------------------------------------------------

@click.group()
def report() -> None:
    """Reports computed from the case records."""


@report.command("monthly")
@click.option("--month", help="YYYY-MM (default: last month).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Default: <home>/reports.")
@click.option("--as-of", "as_of", help="The one clock every figure is counted at (ISO time with zone; "
              "default: the month's end, or now).")
@output.show_options
@friendly
def report_monthly(month, out_dir, as_of, as_json) -> None:
    """The monthly monitoring report, zh and en, as Markdown and PDF with charts and the records behind
    each figure; refused (nothing written) if its figures do not add up. --json: its figures and files."""
    import dataclasses
    from earwitness.kernel.store.models import utcnow
    month = month or report_mod.previous_month(utcnow())
    try:
        clock = datetime.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {as_of!r}", param_hint="--as-of") from exc
    with _store().session() as s:
        rep = report_mod.monthly(s, month, as_of=clock)
        files = report_mod.write(rep, Path(out_dir) if out_dir else settings.get().path("reports"))
    doc = {"report": dataclasses.asdict(rep), "files": [str(p) for p in files]}
    output.print_show(doc, as_json, lambda: [str(p) for p in files])
