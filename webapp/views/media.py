"""Audio excerpts, alignment pictures and screenshots: logged-in users only (the app refuses others)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, send_file

from earwitness.kernel.store.models import Clip, Detection
from webapp import backend, media
from webapp.app import home_path
from webapp.errors import MediaError

bp = Blueprint("media", __name__, url_prefix="/media")


def _excerpts(detection_id: str) -> media.Excerpts:
    det = g.db.get(Detection, detection_id)
    if det is None:
        abort(404, f"no detection {detection_id}")
    conf = current_app.config["EW"]
    try:
        return media.Excerpts(current_app.config["EW_CACHE"], det, clip_path=home_path(det.clip.media_path),
                              ref_path=home_path(det.work.source_path), lead_in_s=conf["lead_in_s"],
                              max_excerpt_s=conf["max_excerpt_s"])
    except MediaError as exc:
        abort(422, str(exc))


@bp.get("/detection/<detection_id>/<kind>.wav")
def excerpt(detection_id: str, kind: str):
    if kind not in media.KINDS:
        abort(404)
    try:
        path = _excerpts(detection_id).wav(kind)
    except MediaError as exc:
        abort(422, str(exc))
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)


@bp.get("/detection/<detection_id>/alignment.png")
def alignment(detection_id: str):
    ex = _excerpts(detection_id)
    try:
        points = lambda: backend.alignment(g.db, detection_id)  # noqa: E731
        path = ex.picture(points)
    except MediaError as exc:
        abort(422, str(exc))
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/clip/<clip_id>/screenshot")
def screenshot(clip_id: str):
    clip = g.db.get(Clip, clip_id)
    path = home_path(clip.screenshot_path) if clip else None
    if path is None or not path.is_file():
        abort(404, "no screenshot for this clip")
    return send_file(path, max_age=0)


@bp.get("/clip/<clip_id>/page.html")
def page_html(clip_id: str):
    """The captured page, as a download (never rendered in our origin: it is someone else's HTML)."""
    clip = g.db.get(Clip, clip_id)
    path = home_path(clip.html_path) if clip else None
    if path is None or not path.is_file():
        abort(404, "no page capture for this clip")
    return send_file(path, mimetype="text/plain", as_attachment=True, download_name=f"{clip_id}.html", max_age=0)
