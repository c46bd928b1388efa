"""The review queue and the per-detection review page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from earwitness.kernel.store.models import Detection
from webapp import backend, media
from webapp.services import services
from webapp.app import home_path
from webapp.errors import MediaError
from webapp.views import require

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/")
def queue():
    f = backend.QueueFilter.parse(request.args)
    size = current_app.config["EW"]["page_size"]
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    rows, total = backend.queue(g.db, f, limit=size, offset=(page - 1) * size)
    return render_template("queue.html", rows=rows, total=total, f=f, page=page, size=size,
                           facets=backend.facets(g.db), args=f.query_args())


@bp.get("/<detection_id>")
def detection(detection_id: str):
    det = g.db.get(Detection, detection_id)
    if det is None:
        abort(404, f"no detection {detection_id}")
    f = backend.QueueFilter.parse(request.args)
    prev_id, next_id = backend.neighbours(g.db, f, det.id)
    conf = current_app.config["EW"]
    try:
        plan, plan_error = media.plan(det, lead_in_s=conf["lead_in_s"], max_excerpt_s=conf["max_excerpt_s"]), None
    except MediaError as exc:
        plan, plan_error = None, str(exc)
    shot = home_path(det.clip.screenshot_path)
    shot_state = None
    if shot is not None:
        if not shot.is_file():
            shot_state = "missing"
        elif det.clip.screenshot_sha256:
            shot_state = "ok" if media.sha256_file(shot) == det.clip.screenshot_sha256 else "changed"
    return render_template("detection.html", det=det, clip=det.clip, work=det.work, plan=plan,
                           plan_error=plan_error, prev_id=prev_id, next_id=next_id, args=f.query_args(), shot_state=shot_state,
                           case=backend.case_of(g.db, det.id))


def _decide(detection_id: str, decision: str):
    det = g.db.get(Detection, detection_id)
    if det is None:
        abort(404, f"no detection {detection_id}")
    reason = (request.form.get("reason") or "").strip()
    args = {k: v for k, v in request.form.items() if k.startswith("q_")}
    args = {k[2:]: v for k, v in args.items() if v}
    f = backend.QueueFilter.parse(args)
    _, next_id = backend.neighbours(g.db, f, det.id)
    if decision == "reject" and not reason:
        flash("A rejection needs a reason (it is kept as a known false positive).", "error")
        return redirect(url_for("review.detection", detection_id=det.id, **f.query_args()))
    try:
        if decision == "confirm":
            case = services().review.confirm(g.db, det.id, actor=g.user.name, reason=reason or None)
            flash(f"Confirmed {det.id}" + (f"; case {case.id} ({case.state})" if case is not None else ""), "ok")
        else:
            services().review.reject(g.db, det.id, actor=g.user.name, reason=reason)
            flash(f"Rejected {det.id} as a false positive.", "ok")
    except services().error as exc:
        g.db.rollback()
        flash(f"Not done: {exc}", "error")
        return redirect(url_for("review.detection", detection_id=det.id, **f.query_args()))
    if next_id:
        return redirect(url_for("review.detection", detection_id=next_id, **f.query_args()))
    return redirect(url_for("review.queue", **f.query_args()))


@bp.post("/<detection_id>/confirm")
@require("review")
def confirm(detection_id: str):
    return _decide(detection_id, "confirm")


@bp.post("/<detection_id>/reject")
@require("review")
def reject(detection_id: str):
    return _decide(detection_id, "reject")
