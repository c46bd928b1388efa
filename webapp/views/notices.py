"""Notices: draft a letter per platform, preview it, export PDF and DOCX (legal and admin).

Drafting and exporting go through :func:`notices.letters.draft` and
:func:`notices.export.export`; a letter that would lack a statutory element is
refused by them, and the page shows what is missing.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select

from webapp import backend
from webapp.views import require

bp = Blueprint("notices", __name__, url_prefix="/notices")
FORMATS = {"pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "zip": "application/zip"}


def _mods():
    mods = {name: backend.optional(f"notices.{name}") for name in ("models", "letters", "export", "exceptions")}
    if mods["models"] is None or mods["exceptions"] is None:
        abort(501, "The notices stage is not installed in this checkout.")
    return mods


@bp.get("/")
def index():
    m = _mods()
    Notice, Case = m["models"].Notice, m["models"].Case
    notices = list(g.db.scalars(select(Notice).order_by(Notice.created_at.desc())))
    ready = dict(g.db.execute(select(Case.platform, func.count()).where(Case.state == "confirmed")
                              .group_by(Case.platform)).all())
    return render_template("notices.html", notices=notices, ready=ready, platform=request.args.get("platform"),
                           can_draft=m["letters"] is not None)


@bp.post("/draft")
@require("notices")
def draft():
    m = _mods()
    if m["letters"] is None:
        abort(501, "notices.letters is not installed in this checkout.")
    platform = (request.form.get("platform") or "").strip()
    lang = request.form.get("lang") or "zh"
    try:
        notice = m["letters"].draft(g.db, platform=platform, lang=lang, actor=g.user.name)
    except m["exceptions"].NoticesError as exc:
        g.db.rollback()
        flash(f"No letter drafted: {exc}", "error")
        return redirect(url_for("notices.index", platform=platform))
    notice = notice[0] if isinstance(notice, (list, tuple)) else notice
    flash(f"Drafted notice {notice.id} to {notice.recipient} covering {len(notice.cases)} case(s).", "ok")
    return redirect(url_for("notices.show", notice_id=notice.id))


@bp.get("/<notice_id>")
def show(notice_id: str):
    m = _mods()
    notice = g.db.get(m["models"].Notice, notice_id)
    if notice is None:
        abort(404, f"no notice {notice_id}")
    preview = None
    render = getattr(m["letters"], "render_text", None) if m["letters"] else None
    if render is not None:
        try:
            preview = render(notice)
        except m["exceptions"].NoticesError as exc:
            flash(f"Preview refused: {exc}", "error")
    return render_template("notice.html", notice=notice, preview=preview, formats=list(FORMATS),
                           can_export=m["export"] is not None)


@bp.post("/<notice_id>/export/<fmt>")
@require("notices")
def export(notice_id: str, fmt: str):
    m = _mods()
    if fmt not in FORMATS:
        abort(404, f"unknown format {fmt!r}")
    if m["export"] is None:
        abort(501, "notices.export is not installed in this checkout.")
    out_dir = Path(current_app.config["EW_CACHE"]) / "notices" / notice_id
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = m["export"].export(g.db, notice_id, fmt, out_dir)
    except m["exceptions"].NoticesError as exc:
        g.db.rollback()
        flash(f"Not exported: {exc}", "error")
        return redirect(url_for("notices.show", notice_id=notice_id))
    path = Path(result[0] if isinstance(result, (list, tuple)) else result)
    return send_file(path, mimetype=FORMATS[fmt], as_attachment=True, download_name=path.name, max_age=0)
