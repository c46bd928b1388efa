"""Cases: the list, and one case's timeline, evidence (with ledger status) and allowed actions.

Every change goes through :func:`notices.cases.apply` / :func:`notices.cases.note`;
the page offers only the events :func:`notices.cases.allowed_events` returns
for the case's state, and only to roles holding the ``cases`` permission.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, or_, select

from earwitness.kernel.store.case_models import Case, EvidenceBundle, Notice
from webapp.params import Params
from webapp.services import services
from webapp.views import require

bp = Blueprint("cases", __name__)

# events whose details come from elsewhere, not from a form on the case page
INDIRECT = {"draft_notice": "drafted from the Notices page (a letter covers all of a platform's open cases)",
            "send_notice": "recorded on the letter's page, for every case the letter covers"}
LABELS = {"channel": "Channel (email, web form…)", "recipient": "Recipient", "sent_at": "Sent at (UTC)",
          "check": "What the check found", "basis": "Legal basis", "received_at": "Received at (UTC)"}


CASE_SORTS = {"opened": (Case.opened_at, False), "newest": (Case.opened_at, True),
              "state_since": (Case.state_since, True)}


@bp.get("/cases/")
def index():
    """Cases, filtered (state, platform, overdue, search), sorted and one page at a time."""
    n = services()
    p = Params(request.args)
    state = p.choice("state", [""] + list(n.lifecycle.STATES), default="")
    platform = p.text("platform")
    overdue = p.flag("overdue")
    search = p.text("q")
    sort = p.choice("sort", list(CASE_SORTS), default="opened")
    page = p.page()
    p.raise_errors()
    size = current_app.config["EW"]["page_size"]
    q = select(Case)
    if state:
        q = q.where(Case.state == state)
    if platform:
        q = q.where(Case.platform == platform)
    if overdue:
        q = q.where(Case.state == "notice_sent", Case.sla_due_at.is_not(None),
                    Case.sla_due_at < datetime.now(timezone.utc))
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(*(col.ilike(like, escape="\\") for col in (Case.title, Case.uploader, Case.media_id,
                                                                   Case.url, Case.id))))
    col, desc = CASE_SORTS[sort]
    total = g.db.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(g.db.scalars(q.order_by(col.desc() if desc else col, Case.id.desc() if desc else Case.id)
                             .limit(size).offset((page - 1) * size)))
    platforms = list(g.db.scalars(select(Case.platform).distinct().order_by(Case.platform)))
    return render_template("cases.html", rows=rows, total=total, page=page, size=size, args=p.args(),
                           states=n.lifecycle.STATES, platforms=platforms, state=state, platform=platform,
                           overdue=overdue, sort=sort, sorts=list(CASE_SORTS))


def _fields(lifecycle, event: str) -> list[dict]:
    t = lifecycle.TRANSITIONS[event]
    out = []
    for key in t.requires:
        field = {"name": key, "label": LABELS.get(key, key.replace("_", " ")), "type": "text"}
        if key.endswith("_at"):
            field.update(type="datetime-local", value=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M"))
        if key == "basis":
            field.update(type="select", options=list(lifecycle.DISPUTE_BASES.items()))
        out.append(field)
    return out


@bp.get("/cases/<case_id>")
def show(case_id: str):
    n = services()
    case = g.db.get(Case, case_id)
    if case is None:
        abort(404, f"no case {case_id}")
    lifecycle = n.lifecycle
    bundles = [(det, n.evidence.bundle_for(g.db, det.id)) for det in case.detections]
    home = current_app.config["EW_HOME"]
    expected = {b.ledger_seq: b.ledger_hash for _, b in bundles if b is not None}
    report = n.ledger.verify(home, expected=expected) if expected else None
    mine = {m["path"] for _, b in bundles if b for m in b.files.values()} | \
           {b.manifest_path for _, b in bundles if b} | {f"entry {s}" for s in expected}
    case_problems = [p for p in (report.problems if report else [])
                     if p.where in mine or any(p.where.startswith(f"entry {s} ") for s in expected)]
    actions = []
    for event in n.cases.allowed_events(case):
        t = lifecycle.TRANSITIONS[event]
        actions.append({"event": event, "doc": t.doc, "target": t.target, "needs_reason": t.needs_reason,
                        "fields": _fields(lifecycle, event), "indirect": INDIRECT.get(event)})
    notice = g.db.get(Notice, case.notice_id) if case.notice_id else None
    return render_template("case.html", case=case, bundles=bundles, report=report, case_problems=case_problems,
                           actions=actions, notice=notice, overdue=case.is_overdue())


def _parse_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@bp.post("/cases/<case_id>/event/<event>")
@require("cases")
def apply(case_id: str, event: str):
    n = services()
    t = n.lifecycle.TRANSITIONS.get(event)
    if t is None or event in INDIRECT:
        abort(400, f"event {event!r} cannot be applied here")
    details = {}
    try:
        for key in t.requires:
            raw = (request.form.get(key) or "").strip()
            details[key] = _parse_time(raw) if key.endswith("_at") and raw else raw
        n.cases.apply(g.db, case_id, event, actor=g.user.name,
                         reason=(request.form.get("reason") or "").strip() or None, **details)
        flash(f"{event.replace('_', ' ')}: done.", "ok")
    except (ValueError, n.error) as exc:
        g.db.rollback()
        flash(f"Not done: {exc}", "error")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/cases/<case_id>/note")
@require("note")
def note(case_id: str):
    n = services()
    try:
        n.cases.note(g.db, case_id, request.form.get("text", ""), actor=g.user.name)
        flash("Note added.", "ok")
    except n.error as exc:
        g.db.rollback()
        flash(f"Not done: {exc}", "error")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.get("/evidence/<bundle_id>/<name>")
def evidence_file(bundle_id: str, name: str):
    """One file of an evidence bundle, as an attachment (logged-in users only)."""
    bundle = g.db.get(EvidenceBundle, bundle_id)
    if bundle is None:
        abort(404, f"no evidence bundle {bundle_id}")
    if name == "manifest.json":
        rel = bundle.manifest_path
    elif name in bundle.files:
        rel = bundle.files[name]["path"]
    else:
        abort(404, f"bundle {bundle_id} has no file {name!r}")
    path = current_app.config["EW_HOME"] / rel
    if not path.is_file():
        abort(410, f"evidence file {rel} is missing from the data home (see the ledger check)")
    return send_file(path, as_attachment=True, download_name=f"{bundle.detection_id}-{name}", max_age=0)
