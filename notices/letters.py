"""Notice letters: batch open cases into one letter per platform and recipient, check it, send it.

A letter is keyed by jurisdiction (CN, US, EU) and written from that
jurisdiction's template in the template's language (:mod:`notices.templates`,
``config/templates/<J>-<lang>.yaml``); the rights holder, agent and recipients come
from ``config/notices.yaml``. :func:`draft` freezes the letter's data (works, items,
detections, evidence hashes, rendered sections) into ``Notice.content``, so a later
render is the same letter. :func:`requirements` lists what the rendered letter
lacks (:mod:`notices.jurisdictions`); a letter lacking anything is neither drafted
nor rendered (:class:`~notices.exceptions.MissingElements` names element and law).

The letter's lifecycle (:mod:`notices.letter_lifecycle`) moves its cases with it:
drafting, approval by a named person, sending, withdrawal, retraction, and a new
revision when a case leaves an open letter. Nothing here sends anything:
:func:`mark_sent` records that a person sent the approved letter (channel,
recipient, time) and moves its cases to ``notice_sent``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from earwitness.kernel import settings
from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import utcnow
from earwitness.kernel.store.case_models import Case, Notice, NoticeEvent
from notices import (case_engine, config, evidence, jurisdictions, letter_lifecycle, letter_tables,
                     lifecycle, ownership, templates)
from notices.exceptions import (LetterTransitionNotAllowed, MissingDetails, MissingElements, NotFound,
                                NoticesError)

LANGS = ("zh", "en")
LABELS = {
    "zh": {"url": "网址", "bundle": "证据包", "entry": "台账第{seq}条", "file": "文件", "none": "无",
           "sep": "：", "hash_columns": ["序号", "证据包编号", "台账条目", "确认记录"]},
    "en": {"url": "URL", "bundle": "Evidence bundle", "entry": "ledger entry #{seq}", "file": "file",
           "none": "none", "sep": ": ", "hash_columns": ["#", "Evidence bundle", "Ledger entry", "Confirmed"]},
}


def _local(t: datetime | None) -> str:
    if t is None:
        return ""
    zone = settings.get().local_zone.key
    return (f"{t.astimezone(ZoneInfo('UTC')).strftime('%Y-%m-%d %H:%M')} UTC / "
            f"{t.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%d %H:%M')} {'北京时间' if zone == 'Asia/Shanghai' else zone}")


def _parties(platform: str) -> dict:
    rh = {k: ("" if v is None else str(v)) for k, v in dict(config.get("rights_holder") or {}).items()}
    agent = {k: ("" if v is None else str(v)) for k, v in dict(config.get("agent") or {}).items()}
    recipient = dict(config.per_platform("recipients", platform) or {})
    return {"rights_holder": rh, "agent": agent if agent.get("name") else None,
            "recipient": recipient}


def choose_template(platform: str, *, jurisdiction: str | None = None, lang: str | None = None) -> tuple[str, str]:
    """(jurisdiction, lang) of the letter: as asked, else the platform's defaults.

    Language is a property of the template: a language asked for without a
    jurisdiction keeps the platform's jurisdiction if it has a template in that
    language, else takes ``notices.language_jurisdictions`` for the language.
    """
    lang = lang or default_lang(platform)
    if lang not in LANGS:
        raise NoticesError(f"unknown letter language {lang!r}; one of: {', '.join(LANGS)}")
    if jurisdiction:
        if jurisdiction not in jurisdictions.JURISDICTIONS:
            raise NoticesError(f"unknown jurisdiction {jurisdiction!r}; one of: "
                               f"{', '.join(jurisdictions.JURISDICTIONS)}")
        return jurisdiction, lang
    own = str(config.per_platform("jurisdictions", platform, "CN"))
    if (own, lang) in templates.available():
        return own, lang
    fallback = (config.get("language_jurisdictions") or {}).get(lang)
    if not fallback:
        raise NoticesError(f"no {lang} template for {own} and no notices.language_jurisdictions.{lang}")
    return str(fallback), lang


def build_content(session: Session, case_list: list[Case], *, lang: str, platform: str,
                  notice_id: str, jurisdiction: str | None = None, with_evidence: bool = True,
                  now: datetime | None = None) -> dict:
    """The letter's data: parties, works, items, detections with evidence hashes, rendered sections."""
    jurisdiction, lang = choose_template(platform, jurisdiction=jurisdiction, lang=lang)
    tpl = templates.load(jurisdiction, lang)
    parties = _parties(platform)
    rh, agent, recipient = parties["rights_holder"], parties["agent"], parties["recipient"]
    claimed = {det.work.id: det.work for case in case_list for det in case.detections
               if det.review_state == "confirmed"}
    ownership.check_claimable(list(claimed.values()))
    works: dict[str, dict] = {}
    items, dets = [], []
    for i, case in enumerate(case_list, start=1):
        titles = []
        for det in case.detections:
            if det.review_state != "confirmed":
                continue
            w = det.work
            if w.id not in works:
                works[w.id] = {"id": w.id, "title": w.title or "", "artist": w.artist or "",
                               "isrc": w.isrc or "", "owner": w.owner or "",
                               "title_evidence": ownership.title_documents(w)}
            if (w.title or w.id) not in titles:
                titles.append(w.title or w.id)
            row = {"ref": f"{i}.{len([d for d in dets if d['item'] == i]) + 1}", "item": i,
                   "detection_id": det.id, "media_id": case.media_id, "work": w.title or w.id,
                   "clip_offset_s": round(det.clip_offset_s, 2), "ref_offset_s": round(det.ref_offset_s, 2),
                   "duration_s": round(det.duration_s, 2),
                   "pair": {k: round(v, 2) for k, v in letter_tables.pair(
                       {"clip_offset_s": det.clip_offset_s, "ref_offset_s": det.ref_offset_s,
                        "duration_s": det.duration_s, "tempo_ratio": det.tempo_ratio}).items()}, "score": round(det.score, 3),
                   "pitch_semitones": round(det.pitch_semitones, 2), "tempo_ratio": round(det.tempo_ratio, 3),
                   "captured": _local(det.clip.captured_at), "bundle": None,
                   "reviewed_by": det.reviewed_by or "", "reviewed_at": _local(det.reviewed_at)}
            if with_evidence:
                b = evidence.build_bundle(session, det.id)
                row["bundle"] = {"id": b.id, "ledger_seq": b.ledger_seq, "ledger_hash": b.ledger_hash,
                                 "manifest_sha256": b.manifest_sha256,
                                 "files": {n: m["sha256"] for n, m in sorted(b.files.items())}}
            dets.append(row)
        items.append({"n": i, "case_id": case.id, "platform": case.platform, "media_id": case.media_id,
                      "url": case.url, "uploader": case.uploader or "", "title": case.title or "",
                      "works": titles})
    now = now or utcnow()
    zh = lang == "zh"
    ctx = {
        "recipient_name": (recipient.get("name_zh") if zh else None) or recipient.get("name", ""),
        "notice_id": notice_id, "platform": platform,
        "date": now.astimezone(settings.get().local_zone).strftime("%Y年%m月%d日" if zh else "%d %B %Y"),
        "n_items": len(items), "n_works": len(works),
        "rights_holder_name": rh.get("name", ""),
        "rights_holder_name_zh": rh.get("name_zh") or rh.get("name", ""),
        "registration_number": rh.get("registration_number", ""),
        "contact_person": rh.get("contact_person", ""),
        "contact_person_zh": rh.get("contact_person_zh") or rh.get("contact_person", ""),
        "phone": rh.get("phone", ""), "email": rh.get("email", ""),
        "address": rh.get("address", ""), "address_zh": rh.get("address_zh") or rh.get("address", ""),
        "signature": rh.get("signature", ""), "signature_zh": rh.get("signature_zh") or rh.get("signature", ""),
        "agent_name": (agent or {}).get("name", ""), "agent_address": (agent or {}).get("address", ""),
        "agent_authorisation": (agent or {}).get("authorisation", ""),
    }
    sections = templates.render(tpl, ctx, has_agent=bool(agent))
    return {"jurisdiction": jurisdiction, "lang": lang, "title": tpl.title, "platform": platform,
            "template": {"id": tpl.id, "version": tpl.version, "sha256": tpl.sha256},
            "notice_id": notice_id, "date": ctx["date"], "rights_holder": rh, "agent": agent,
            "recipient": recipient, "works": list(works.values()), "items": items, "detections": dets,
            "identity": ownership.identity(),
            "with_evidence": with_evidence, "sections": sections}


# --- requirements: checked on the rendered letter (notices.jurisdictions) --------------------------

def _legacy(content: dict) -> dict:
    """A letter drafted before templates had structure: its text sections as paragraphs."""
    if "jurisdiction" in content:
        return content
    out = dict(content, jurisdiction={"zh": "CN", "en": "US"}.get(content.get("lang"), "CN"))
    out["sections"] = [{"element": s.get("element", ""), "heading": s.get("heading", ""),
                        "paragraphs": [x for x in str(s.get("text", "")).splitlines() if x.strip()],
                        "fields": [], "table": s.get("table"), "columns": s.get("columns") or [],
                        "statement": None} for s in content.get("sections", [])]
    return out


def requirements(content: dict) -> list[str]:
    """The required elements the letter lacks, each with its law and why (empty: complete)."""
    return jurisdictions.missing(_legacy(content))


def ensure_complete(content: dict) -> None:
    missing = requirements(content)
    if missing:
        content = _legacy(content)
        raise MissingElements(f"{content['jurisdiction']} ({content['lang']})", missing)


# --- blocks: what both renderers draw --------------------------------------------------------------

HASH_ANNEX = {"zh": "附件：证据包哈希值", "en": "Annex: evidence hashes"}


def blocks(content: dict) -> list[tuple]:
    """The letter as ("title"|"heading"|"para"|"small", text) and ("table", columns, rows) blocks.

    The body quotes positions as matched pairs; every SHA-256 is in an annex: the
    title and identity annexes, and the evidence hashes annex (the template's
    ``hashes`` section, or one added at the end for a letter drafted before it).
    """
    ensure_complete(content)
    content = _legacy(content)
    lab = LABELS[content["lang"]]
    out: list[tuple] = [("title", content["title"])]
    hash_annex = any(sec["table"] == "hashes" for sec in content["sections"])
    for sec in content["sections"]:
        if sec["heading"]:
            out.append(("heading", sec["heading"]))
        for line in sec["paragraphs"]:
            out.append(("para", line))
        for f in sec["fields"]:
            if f["value"].strip():
                out.append(("para", f"{f['label']}{lab['sep']}{f['value']}" if f["label"] != "/s/"
                            else f"/s/ {f['value']}"))
        if not sec["table"]:
            continue
        out.append(("table", sec["columns"], letter_tables.rows(content, sec["table"])))
        for line in letter_tables.hash_lines(content, sec["table"]):
            out.append(("small", line))
        if sec["table"] == "items":
            for it in content["items"]:
                out.append(("para", f"[{it['n']}] {lab['url']}: {it['url']}"))
    if not hash_annex and letter_tables.rows(content, "hashes"):
        out.append(("heading", HASH_ANNEX[content["lang"]]))
        out.append(("table", lab["hash_columns"], letter_tables.rows(content, "hashes")))
        out += [("small", line) for line in letter_tables.hash_lines(content, "hashes")]
    return out


def plain_text(content: dict) -> str:
    """The letter as plain text (for previews and tests)."""
    lines = []
    for b in blocks(content):
        if b[0] == "table":
            lines.append(" | ".join(b[1]))
            lines.extend(" | ".join(r) for r in b[2])
        else:
            lines.append(b[1])
    return "\n".join(lines)


# --- the letter lifecycle (notices.letter_lifecycle), cases kept in step ---------------------------

def get_notice(session: Session, notice_id: str) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id!r}")
    return notice


def recipient_key(platform: str) -> str:
    rec = config.per_platform("recipients", platform) or {}
    return rec.get("email") or rec.get("name") or platform


def default_lang(platform: str) -> str:
    return str(config.per_platform("languages", platform, "zh"))


def content_sha256(content: dict) -> str:
    """The SHA-256 of the letter's frozen data (canonical JSON): which letter a record speaks of."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def _check_letter(notice: Notice, event: str, reason: str | None = None) -> letter_lifecycle.LetterTransition:
    t = letter_lifecycle.TRANSITIONS[event]
    if notice.state not in t.sources:
        raise LetterTransitionNotAllowed(notice.id, notice.state, event,
                                         letter_lifecycle.events_from(notice.state))
    if t.needs_reason and not (reason and reason.strip()):
        raise MissingDetails(f"letter event {event!r} on {notice.id} needs a reason")
    return t


def _letter_event(session: Session, notice: Notice, event: str, *, actor: str, at: datetime,
                  reason: str | None = None, details: dict | None = None) -> NoticeEvent:
    if not actor or not str(actor).strip():
        raise MissingDetails("every letter event needs an actor")
    t = letter_lifecycle.TRANSITIONS[event]
    before = None if event == "draft" else notice.state
    notice.state = t.target
    ev = NoticeEvent(notice_id=notice.id, seq=len(notice.events) + 1, event=event, from_state=before,
                     to_state=t.target, actor=actor, at=at, reason=reason,
                     details=case_engine._jsonable(details or {}))
    notice.events.append(ev)
    session.flush()
    return ev


def _check_cases(notice: Notice, state: str, event: str, **details: Any) -> None:
    """Every case of the revision is where the letter says and accepts ``event``; else refuse."""
    if not notice.cases:
        raise NoticesError(f"letter {notice.id} covers no case")
    for case in notice.cases:
        if case.state != state or (state in lifecycle.IN_OPEN_LETTER and case.notice_id != notice.id):
            raise NoticesError(f"letter {notice.id}: case {case.id} is {case.state}"
                               + (f" in letter {case.notice_id}" if case.notice_id not in (None, notice.id) else "")
                               + f", not {state} in this letter; nothing changed")
        if event:
            case_engine.check(case, event, **details)


def _select_cases(session: Session, platform: str, case_ids: list[str] | None) -> list[Case]:
    q = select(Case).where(Case.platform == platform, Case.state == "confirmed").order_by(Case.opened_at)
    if case_ids:
        q = q.where(Case.id.in_(case_ids))
    batch = list(session.scalars(q))
    if case_ids:
        unfit = sorted(set(case_ids) - {c.id for c in batch})
        if unfit:
            raise NoticesError(f"not confirmed cases on {platform!r}, cannot go into a letter: "
                               f"{', '.join(unfit)}")
    if not batch:
        raise NoticesError(f"no confirmed cases on {platform!r} to put in a letter")
    return batch


def draft(session: Session, *, platform: str, lang: str | None = None, actor: str,
          case_ids: list[str] | None = None, now: datetime | None = None,
          jurisdiction: str | None = None) -> Notice:
    """One letter to the platform's recipient covering its confirmed cases (or ``case_ids``).

    Refuses (:class:`MissingElements`) before changing anything if the letter would
    lack a required element; builds each detection's evidence bundle otherwise.
    """
    jurisdiction, lang = choose_template(platform, jurisdiction=jurisdiction, lang=lang)
    batch = _select_cases(session, platform, case_ids)
    notice_id = new_id()
    ensure_complete(build_content(session, batch, lang=lang, jurisdiction=jurisdiction, platform=platform,
                                  notice_id=notice_id, with_evidence=False, now=now))
    content = build_content(session, batch, lang=lang, jurisdiction=jurisdiction, platform=platform,
                            notice_id=notice_id, now=now)
    ensure_complete(content)
    at = now or utcnow()
    notice = Notice(id=notice_id, series_id=notice_id, revision=1, platform=platform,
                    recipient=recipient_key(platform), jurisdiction=jurisdiction, lang=lang, created_by=actor, created_at=at,
                    content=content, content_sha256=content_sha256(content), cases=batch)
    session.add(notice)
    session.flush()
    _letter_event(session, notice, "draft", actor=actor, at=at,
                  details={"cases": [c.id for c in batch], "content_sha256": notice.content_sha256})
    for case in batch:
        case_engine.transition(session, case.id, "draft_notice", actor=actor, at=now, notice_id=notice.id,
                               lang=lang, recipient=notice.recipient)
    return notice


# actors that are programs, never a person: they can draft, not approve or send
SYSTEM_ACTORS = ("auto-confirm", "daemon", "recheck", "match_clip", "cli")


def check_legal_user(actor: str, what: str) -> None:
    """Only a named person, and one of ``notices.legal_users`` when that list is set, may ``what``."""
    name = (actor or "").strip()
    if not name or name in SYSTEM_ACTORS:
        raise MissingDetails(f"{what} needs a named legal user, not {name or 'nobody'!r}")
    allowed = config.get("legal_users") or []
    if allowed and name not in allowed:
        raise MissingDetails(f"{what}: {name!r} is not one of the legal users (notices.legal_users: "
                             f"{', '.join(allowed)})")


def approve(session: Session, notice_id: str, *, actor: str, at: datetime | None = None) -> Notice:
    """A named legal user approves the letter as it stands (its content hash is recorded).

    Every letter needs this, auto-confirmed detections or not: the approval records
    which detections a person vouched for without reviewing them one by one.
    """
    notice = get_notice(session, notice_id)
    _check_letter(notice, "approve")
    check_legal_user(actor, f"approving letter {notice.id}")
    _check_cases(notice, "notice_drafted", None)
    ensure_complete(notice.content)
    at = at or utcnow()
    notice.approved_by, notice.approved_at = actor, at
    auto = [d["detection_id"] for d in notice.content.get("detections", [])
            if d.get("reviewed_by") in SYSTEM_ACTORS]
    _letter_event(session, notice, "approve", actor=actor, at=at,
                  details={"content_sha256": notice.content_sha256, "auto_confirmed_detections": auto})
    return notice


def reopen(session: Session, notice_id: str, *, actor: str, reason: str) -> Notice:
    """Take an approval back before sending (the letter is a draft again)."""
    notice = get_notice(session, notice_id)
    _check_letter(notice, "reopen", reason)
    notice.approved_by = notice.approved_at = None
    _letter_event(session, notice, "reopen", actor=actor, at=utcnow(), reason=reason)
    return notice


def mark_sent(session: Session, notice_id: str, *, actor: str, channel: str, recipient: str,
              sent_at: datetime | str, at: datetime | None = None) -> Notice:
    """Record that a person sent the approved letter: by which channel, to whom, when.

    Every case of the revision moves to ``notice_sent`` with it, or nothing moves.
    """
    notice = get_notice(session, notice_id)
    if notice.state == "draft":
        raise LetterTransitionNotAllowed(notice.id, notice.state, "send", ["approve first (notices approve)"])
    check_legal_user(actor, f"sending letter {notice.id}")
    _check_letter(notice, "send")
    details = {"channel": channel, "recipient": recipient, "sent_at": sent_at}
    _check_cases(notice, "notice_drafted", "send_notice", **details)
    when = case_engine._as_time(sent_at, "sent_at")
    if when > utcnow() + timedelta(minutes=5):
        raise MissingDetails(f"sent_at {when.isoformat()} is in the future; record a sending once it happened")
    at = at or when        # one clock: the letter and its cases were sent when the letter was
    for case in notice.cases:
        case_engine.transition(session, case.id, "send_notice", actor=actor, at=at, notice_id=notice.id,
                               revision=notice.revision, **details)
    notice.sent_at, notice.sent_by = when, actor
    notice.channel, notice.sent_to = channel, recipient
    _letter_event(session, notice, "send", actor=actor, at=at,
                  details={**details, "cases": [c.id for c in notice.cases],
                           "content_sha256": notice.content_sha256, "files": dict(notice.files or {})})
    return notice


def withdraw(session: Session, notice_id: str, *, actor: str, reason: str) -> Notice:
    """Withdraw an unsent letter; its cases go back to ``confirmed``."""
    return _close(session, notice_id, "withdraw", "notice_drafted", "withdraw_draft", actor=actor, reason=reason)


def retract(session: Session, notice_id: str, *, actor: str, reason: str) -> Notice:
    """Retract a sent letter: refused once any of its cases moved on (removed, disputed...)."""
    return _close(session, notice_id, "retract", "notice_sent", "retract_notice", actor=actor, reason=reason)


def _close(session: Session, notice_id: str, letter_event: str, case_state: str, case_event: str, *,
           actor: str, reason: str) -> Notice:
    """End a letter: every case must be in ``case_state`` and takes ``case_event``, all or none."""
    notice = get_notice(session, notice_id)
    _check_letter(notice, letter_event, reason)
    _check_cases(notice, case_state, case_event, reason=reason)
    at = utcnow()
    for case in notice.cases:
        case_engine.transition(session, case.id, case_event, actor=actor, reason=reason, at=at,
                               notice_id=notice.id)
    notice.closed_at = at
    _letter_event(session, notice, letter_event, actor=actor, at=at, reason=reason,
                  details={"cases": [c.id for c in notice.cases]})
    return notice


def open_letter_of(session: Session, case: Case) -> Notice | None:
    """The open (draft or approved) letter revision covering ``case``, if any."""
    if not case.notice_id:
        return None
    notice = session.get(Notice, case.notice_id)
    if notice is None or notice.state not in letter_lifecycle.OPEN or case not in notice.cases:
        return None
    return notice


def remove_case(session: Session, case: Case, event: str, *, actor: str, reason: str | None,
                at: datetime | None = None) -> Case:
    """Apply ``withdraw_draft`` or ``withdraw`` to a case in an open letter, and take it out of the letter.

    The letter gets a new draft revision covering the other cases (the old one is
    kept as ``superseded`` with its hashes), or, if it covered only this case, is
    withdrawn. Everything is checked first: it all applies, or nothing does.
    """
    if event not in ("withdraw_draft", "withdraw"):
        raise NoticesError(f"{event!r} does not take a case out of a letter")
    case_engine.check(case, event, reason=reason)
    notice = open_letter_of(session, case)
    if notice is None:
        return case_engine.transition(session, case.id, event, actor=actor, reason=reason, at=at)
    remaining = [c for c in notice.cases if c.id != case.id]
    at = at or utcnow()
    if not remaining:
        _check_letter(notice, "withdraw", reason)
        notice.closed_at = at
        _letter_event(session, notice, "withdraw", actor=actor, at=at, reason=reason,
                      details={"cases": [case.id], "by_case_event": event})
        return case_engine.transition(session, case.id, event, actor=actor, reason=reason, at=at,
                                      notice_id=notice.id)
    _check_letter(notice, "revise", reason)
    for other in remaining:
        if other.state != "notice_drafted" or other.notice_id != notice.id:
            raise NoticesError(f"letter {notice.id}: case {other.id} is {other.state}, not drafted "
                               "in this letter; nothing changed")
    new_id_ = new_id()
    content = build_content(session, remaining, lang=notice.lang, jurisdiction=notice.jurisdiction,
                            platform=notice.platform, notice_id=new_id_, now=at)
    ensure_complete(content)
    revised = Notice(id=new_id_, series_id=notice.series_id or notice.id, revision=notice.revision + 1,
                     supersedes_id=notice.id, platform=notice.platform, recipient=notice.recipient,
                     jurisdiction=notice.jurisdiction, lang=notice.lang, created_by=actor, created_at=at,
                     content=content, content_sha256=content_sha256(content), cases=remaining)
    session.add(revised)
    session.flush()
    notice.superseded_by_id, notice.closed_at = revised.id, at
    _letter_event(session, notice, "revise", actor=actor, at=at, reason=reason,
                  details={"removed_case": case.id, "by_case_event": event, "new_revision": revised.id,
                           "content_sha256": notice.content_sha256, "files": dict(notice.files or {})})
    _letter_event(session, revised, "draft", actor=actor, at=at, reason=reason,
                  details={"supersedes": notice.id, "cases": [c.id for c in remaining],
                           "content_sha256": revised.content_sha256})
    for other in remaining:
        other.notice_id = revised.id
        case_engine.record(session, other.id, "letter_revised", actor=actor, at=at, reason=reason,
                           old_notice_id=notice.id, notice_id=revised.id, revision=revised.revision,
                           removed_case=case.id)
    return case_engine.transition(session, case.id, event, actor=actor, reason=reason, at=at,
                                  notice_id=notice.id)


def notices_for_case(session: Session, case_id: str) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.cases.any(Case.id == case_id))
                                .order_by(Notice.created_at)))


def summary(content: dict[str, Any]) -> str:
    return f"{content.get('jurisdiction', '?')} {content['lang']} letter to {content['recipient'].get('name', '?')}: " \
           f"{len(content['items'])} item(s), {len(content['works'])} work(s)"
