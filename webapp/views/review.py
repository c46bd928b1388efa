"""The review queue (filters, search, sort, grouping, bulk actions) and the per-detection page.

Decisions go through the notices stage (``services().review``: ``confirm``,
``reject``, ``reopen``). A rejection takes one of the fixed reasons
(:data:`webapp.backend.REJECT_REASONS`; "other" needs a note), stored as
``code: note`` so the false-positive statistics can count them. Opening a pending
detection claims it for the reviewer (``webapp.claim_minutes``); another reviewer
sees who holds it and must take it over explicitly. Every reopen (undo) is also
written to the audit log.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from earwitness.kernel.store.models import Detection
from webapp import audit, backend, media
from webapp.app import home_path
from webapp.charts import clip_timeline
from webapp.errors import MediaError
from webapp.params import Params
from webapp.services import services
from webapp.views import require

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/")
def queue():
    f = backend.QueueFilter.parse(request.args)
    p = Params(request.args)
    page = p.page()
    group = p.choice("group", ("",) + backend.GROUPS, default="")
    p.raise_errors()
    size = current_app.config["EW"]["page_size"]
    args = f.query_args()
    if group:
        rows, total = backend.groups(g.db, f, group, limit=size, offset=(page - 1) * size)
        return render_template("queue_groups.html", rows=rows, total=total, f=f, page=page, size=size,
                               group=group, facets=backend.facets(g.db), args={**args, "group": group},
                               filter_args=args, sorts=backend.SORTS)
    rows, total = backend.queue(g.db, f, limit=size, offset=(page - 1) * size)
    return render_template("queue.html", rows=rows, total=total, f=f, page=page, size=size, undo=_undoable(),
                           facets=backend.facets(g.db), args=args, sorts=backend.SORTS,
                           claims=backend.claims(g.db, [d.id for d in rows]), reasons=backend.REJECT_REASONS,
                           bulk_max=current_app.config["EW"].get("bulk_max", 500))


@bp.get("/stats")
def stats():
    """Per-reviewer counts and the rejection reasons (the false-positive statistics)."""
    return render_template("review_stats.html", reviewers=backend.reviewer_counts(g.db),
                           reasons=backend.rejection_reasons(g.db), labels=backend.REJECT_REASONS)


@bp.get("/<detection_id>")
def detection(detection_id: str):
    det = g.db.get(Detection, detection_id)
    if det is None:
        abort(404, f"no detection {detection_id}")
    f = backend.QueueFilter.parse(request.args)
    prev_id, next_id = backend.neighbours(g.db, f, det.id)
    conf = current_app.config["EW"]
    claim = backend.claims(g.db, [det.id]).get(det.id)
    if det.review_state == "pending" and services_can_review():
        claim = backend.claim(g.db, det.id, g.user.name, minutes=conf["claim_minutes"])
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
                           plan_error=plan_error, prev_id=prev_id, next_id=next_id, args=f.query_args(),
                           shot_state=shot_state, case=backend.case_of(g.db, det.id), claim=claim,
                           reasons=backend.REJECT_REASONS, undo=_undoable(), geometry=media.picture_geometry(),
                           timeline=clip_timeline(det.clip.duration_s, det.clip_offset_s, det.duration_s))


def _undoable() -> Detection | None:
    """The detection named by ``?undo=`` when this user just decided it (the page then offers Undo)."""
    det_id = (request.args.get("undo") or "")[:26]
    det = g.db.get(Detection, det_id) if det_id else None
    if det is None or det.reviewed_by != g.user.name or det.review_state not in ("confirmed", "rejected"):
        return None
    return det


def services_can_review() -> bool:
    from webapp.auth import can
    return can(g.user, "review")


def _rejection_reason(form) -> str:
    """``code`` or ``code: note`` from the form's fixed reason and note; '' when incomplete."""
    code = (form.get("reason_code") or "").strip()
    note = (form.get("reason") or "").strip()
    if code not in backend.REJECT_REASONS:
        return ""
    if code == "other" and not note:
        return ""
    return f"{code}: {note}" if note else code


def _held_by_other(det_id: str) -> str | None:
    claim = backend.claims(g.db, [det_id]).get(det_id)
    return claim.user_name if claim is not None and claim.user_name != g.user.name else None


def _decide(detection_id: str, decision: str):
    det = g.db.get(Detection, detection_id)
    if det is None:
        abort(404, f"no detection {detection_id}")
    f = backend.QueueFilter.parse({k[2:]: v for k, v in request.form.items() if k.startswith("q_") and v},
                                  strict=False)
    back = redirect(url_for("review.detection", detection_id=det.id, **f.query_args()))
    holder = _held_by_other(det.id)
    if holder and request.form.get("take_over") != "1":
        flash(f"{holder} is reviewing this detection; tick “take over” to decide it anyway.", "error")
        return back
    _, next_id = backend.neighbours(g.db, f, det.id)
    review = services().review
    try:
        if decision == "confirm":
            case = review.confirm(g.db, det.id, actor=g.user.name, reason=(request.form.get("reason") or "").strip() or None)
            flash(f"Confirmed {det.id}" + (f"; case {case.id} ({case.state})" if case is not None else ""), "ok")
        else:
            reason = _rejection_reason(request.form)
            if not reason:
                flash("A rejection needs one of the reasons (and a note for “other”).", "error")
                return back
            review.reject(g.db, det.id, actor=g.user.name, reason=reason)
            flash(f"Rejected {det.id} as a false positive ({reason}).", "ok")
    except services().error as exc:
        g.db.rollback()
        flash(f"Not done: {exc}", "error")
        return back
    backend.release(g.db, [det.id])
    if next_id:
        return redirect(url_for("review.detection", detection_id=next_id, undo=det.id, **f.query_args()))
    return redirect(url_for("review.queue", undo=det.id, **f.query_args()))


@bp.post("/<detection_id>/confirm")
@require("review")
def confirm(detection_id: str):
    return _decide(detection_id, "confirm")


@bp.post("/<detection_id>/reject")
@require("review")
def reject(detection_id: str):
    return _decide(detection_id, "reject")


@bp.post("/<detection_id>/reopen")
@require("review")
def reopen(detection_id: str):
    """Undo a confirm or reject: back to pending, recorded in the case (if any) and the audit log."""
    det = g.db.get(Detection, detection_id)
    if det is None:
        abort(404, f"no detection {detection_id}")
    reason = (request.form.get("reason") or "").strip() or "undo"
    before = det.review_state
    try:
        services().review.reopen(g.db, det.id, actor=g.user.name, reason=reason)
        audit.record(g.db, "detection_reopened", actor=g.user.name, subject=det.id, remote_addr=request.remote_addr,
                     detail=f"was {before}: {reason}")
        flash(f"Reopened {det.id} (was {before}); it is pending again.", "ok")
    except services().error as exc:
        g.db.rollback()
        flash(f"Not reopened: {exc}", "error")
    return redirect(url_for("review.detection", detection_id=det.id))


def _back_to_queue():
    """The queue with the filters the bulk form carried."""
    f = backend.QueueFilter.parse({k[2:]: v for k, v in request.form.items() if k.startswith("q_") and v},
                                  strict=False)
    return url_for("review.queue", **f.query_args())


@bp.post("/bulk")
@require("review")
def bulk():
    """Confirm, reject or reopen a selection: ticked rows, or everything the filters select (capped)."""
    action = request.form.get("action")
    if action not in ("confirm", "reject", "reopen"):
        abort(400, f"unknown bulk action {action!r}: confirm, reject or reopen")
    cap = int(current_app.config["EW"].get("bulk_max", 500))
    if request.form.get("scope") == "filter":
        f = backend.QueueFilter.parse({k[2:]: v for k, v in request.form.items() if k.startswith("q_") and v})
        ids = backend.matching_ids(g.db, f, limit=cap)
    else:
        ids = list(dict.fromkeys(request.form.getlist("ids")))
        if len(ids) > cap:
            abort(400, f"{len(ids)} detections selected; one bulk action takes at most {cap}")
    if not ids:
        flash("Nothing selected.", "error")
        return redirect(_back_to_queue())
    reason = ""
    if action == "reject":
        reason = _rejection_reason(request.form)
        if not reason:
            flash("A bulk rejection needs one of the reasons (and a note for “other”).", "error")
            return redirect(_back_to_queue())
    note = (request.form.get("reason") or "").strip()
    review = services().review
    claims = backend.claims(g.db, ids)
    done, refused = [], []
    for det_id in ids:
        holder = claims.get(det_id)
        if holder is not None and holder.user_name != g.user.name:
            refused.append((det_id, f"{holder.user_name} is reviewing it"))
            continue
        try:
            with g.db.begin_nested():
                if action == "confirm":
                    review.confirm(g.db, det_id, actor=g.user.name, reason=note or "bulk confirm")
                elif action == "reject":
                    review.reject(g.db, det_id, actor=g.user.name, reason=reason)
                else:
                    review.reopen(g.db, det_id, actor=g.user.name, reason=note or "bulk undo")
            done.append(det_id)
        except services().error as exc:
            refused.append((det_id, str(exc)))
    if action != "reopen":
        backend.release(g.db, done)
    audit.record(g.db, f"bulk_{action}", actor=g.user.name, subject=f"{len(done)} detections",
                 remote_addr=request.remote_addr,
                 detail=(f"{reason}; " if reason else "") + " ".join(done) + (f"; refused {len(refused)}" if refused else ""))
    rows = {d.id: d for d in g.db.query(Detection).filter(Detection.id.in_(done + [r for r, _ in refused]))}
    return render_template("bulk.html", action=action, done=[rows[i] for i in done if i in rows],
                           refused=[(rows.get(i), i, why) for i, why in refused])
