"""Notices: draft a letter per platform, preview it, export PDF and DOCX (legal and admin).

Drafting and exporting go through :func:`notices.letters.draft` and
:func:`notices.export.export`; a letter that would lack a statutory element is
refused by them, and the page shows what is missing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, or_, select
from werkzeug.security import safe_join

from earwitness.kernel.store.case_models import Case, Notice
from webapp.params import Params
from webapp.services import services
from webapp.views import require

bp = Blueprint("notices", __name__, url_prefix="/notices")
FORMATS = {"pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "zip": "application/zip"}


@bp.get("/")
def index():
    """Letters, newest first, filtered by platform, state or a search of the recipient, one page at a time."""
    p = Params(request.args)
    platform = p.text("platform")
    state = p.text("state")
    search = p.text("q")
    page = p.page()
    p.raise_errors()
    size = current_app.config["EW"]["page_size"]
    q = select(Notice)
    if platform:
        q = q.where(Notice.platform == platform)
    if state:
        q = q.where(Notice.state == state)
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(Notice.recipient.ilike(like, escape="\\"), Notice.id.ilike(like, escape="\\")))
    total = g.db.scalar(select(func.count()).select_from(q.subquery()))
    notices = list(g.db.scalars(q.order_by(Notice.created_at.desc(), Notice.id.desc())
                                .limit(size).offset((page - 1) * size)))
    ready = dict(g.db.execute(select(Case.platform, func.count()).where(Case.state == "confirmed")
                              .group_by(Case.platform)).all())
    states = list(g.db.scalars(select(Notice.state).distinct().order_by(Notice.state)))
    platforms = list(g.db.scalars(select(Notice.platform).distinct().order_by(Notice.platform)))
    return render_template("notices.html", notices=notices, ready=ready, platform=platform, state=state,
                           states=states, platforms=platforms, total=total, page=page, size=size, args=p.args())


@bp.post("/draft")
@require("notices")
def draft():
    m = services()
    platform = (request.form.get("platform") or "").strip()
    lang = request.form.get("lang") or "zh"
    try:
        notice = m.letters.draft(g.db, platform=platform, lang=lang, actor=g.user.name)
    except m.error as exc:
        g.db.rollback()
        flash(f"No letter drafted: {exc}", "error")
        return redirect(url_for("notices.index", platform=platform))
    notice = notice[0] if isinstance(notice, (list, tuple)) else notice
    flash(f"Drafted notice {notice.id} to {notice.recipient} covering {len(notice.cases)} case(s).", "ok")
    return redirect(url_for("notices.show", notice_id=notice.id))


@bp.get("/<notice_id>")
def show(notice_id: str):
    m = services()
    notice = g.db.get(Notice, notice_id)
    if notice is None:
        abort(404, f"no notice {notice_id}")
    blocks, refused = None, None
    try:
        blocks = m.letters.blocks(notice.content)
    except m.error as exc:
        refused = str(exc)
    folder = _export_dir(notice.id)
    exported = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    return render_template("notice.html", notice=notice, blocks=blocks, refused=refused, formats=list(FORMATS),
                           exported=exported,
                           now=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M"))


def _export_dir(notice_id: str) -> Path:
    return Path(current_app.config["EW_CACHE"]) / "notices" / notice_id


@bp.post("/<notice_id>/send")
@require("notices")
def send(notice_id: str):
    """Record that a person sent the letter (channel, recipient, time); nothing is sent from here."""
    m = services()
    try:
        raw = (request.form.get("sent_at") or "").strip()
        sent_at = datetime.fromisoformat(raw) if raw else None
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=timezone.utc)
        letter = g.db.get(Notice, notice_id)
        if letter is not None and letter.state == "draft":
            # the legal user recording the sending approves the letter as it stands (recorded)
            m.letters.approve(g.db, notice_id, actor=g.user.name)
        m.letters.mark_sent(g.db, notice_id, actor=g.user.name, channel=(request.form.get("channel") or "").strip(),
                               recipient=(request.form.get("recipient") or "").strip(), sent_at=sent_at or "")
        flash("Recorded as sent; the covered cases now wait for removal.", "ok")
    except (ValueError, m.error) as exc:
        g.db.rollback()
        flash(f"Not recorded: {exc}", "error")
    return redirect(url_for("notices.show", notice_id=notice_id))


@bp.post("/<notice_id>/withdraw")
@require("notices")
def withdraw(notice_id: str):
    m = services()
    try:
        m.letters.withdraw(g.db, notice_id, actor=g.user.name, reason=(request.form.get("reason") or "").strip())
        flash("Draft withdrawn; its cases are back to confirmed.", "ok")
    except m.error as exc:
        g.db.rollback()
        flash(f"Not withdrawn: {exc}", "error")
    return redirect(url_for("notices.show", notice_id=notice_id))


@bp.get("/files/<notice_id>/<name>")
def file(notice_id: str, name: str):
    """A file exported earlier for this notice (logged-in users only)."""
    path = safe_join(str(_export_dir(notice_id)), name)
    if path is None or not Path(path).is_file():
        abort(404, f"notice {notice_id} has no exported file {name!r}")
    return send_file(path, as_attachment=True, download_name=name, max_age=0)


@bp.post("/<notice_id>/export/<fmt>")
@require("notices")
def export(notice_id: str, fmt: str):
    m = services()
    if fmt not in FORMATS:
        abort(404, f"unknown format {fmt!r}")
    if g.db.get(Notice, notice_id) is None:
        abort(404, f"no notice {notice_id}")      # before any folder is made for it
    out_dir = _export_dir(notice_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = m.export.export(g.db, notice_id, fmt, out_dir)
    except m.error as exc:
        g.db.rollback()
        flash(f"Not exported: {exc}", "error")
        return redirect(url_for("notices.show", notice_id=notice_id))
    path = Path(result[0] if isinstance(result, (list, tuple)) else result)
    return send_file(path, mimetype=FORMATS[fmt], as_attachment=True, download_name=path.name, max_age=0)
