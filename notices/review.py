"""Review of detections: confirm (opens or joins a case), reject (kept as a known false positive).

A rejected pairing of clip audio and work is never raised again: the matcher glue
calls :func:`is_known_false_positive` before recording a detection. Auto-confirm
(off by default) confirms pending detections that meet every threshold in
``notices.auto_confirm``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from earwitness.kernel.store.models import Clip, Detection, utcnow
from notices import cases, config
from notices.exceptions import MissingDetails, NotFound, ReviewError
from earwitness.kernel.store.case_models import Case, FalsePositive

AUTO_ACTOR = "auto-confirm"


def _audio_key(clip: Clip) -> str:
    return clip.audio_sha256 or f"clip:{clip.id}"


def get_detection(session: Session, detection_id: str) -> Detection:
    det = session.get(Detection, detection_id)
    if det is None:
        raise NotFound(f"no detection {detection_id!r}")
    return det


def pending(session: Session, *, platform: str | None = None, work_id: str | None = None,
            min_score: float | None = None, limit: int | None = None) -> list[Detection]:
    """Detections waiting for review, oldest first."""
    q = (select(Detection).join(Detection.clip).where(Detection.review_state == "pending")
         .order_by(Detection.created_at, Detection.id))
    if platform:
        q = q.where(Clip.platform == platform)
    if work_id:
        q = q.where(Detection.work_id == work_id)
    if min_score is not None:
        q = q.where(Detection.score >= min_score)
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def confirm(session: Session, detection_id: str, *, actor: str, reason: str | None = None,
            at: datetime | None = None) -> Case:
    """Confirm a detection and return its case (a new one, or the item's open case)."""
    det = get_detection(session, detection_id)
    if det.review_state == "rejected":
        raise ReviewError(f"detection {det.id} was rejected by {det.reviewed_by}: "
                          f"{det.review_reason}; it cannot be confirmed")
    if det.clip.licensed:
        raise ReviewError(f"detection {det.id}: clip {det.clip_id} is marked licensed")
    if not actor:
        raise MissingDetails("confirm needs an actor")
    at = at or utcnow()
    if det.review_state != "confirmed":
        det.review_state, det.reviewed_by, det.reviewed_at, det.review_reason = \
            "confirmed", actor, at, reason
    return cases.open_or_attach(session, det, actor=actor, reason=reason, at=at)


def reject(session: Session, detection_id: str, *, actor: str, reason: str,
           at: datetime | None = None) -> FalsePositive:
    """Reject a detection as a false positive; the clip audio and work are never paired again."""
    det = get_detection(session, detection_id)
    if not reason or not reason.strip():
        raise MissingDetails("a rejection needs a reason")
    if not actor:
        raise MissingDetails("reject needs an actor")
    if det.review_state == "confirmed":
        raise ReviewError(f"detection {det.id} is confirmed (case "
                          f"{getattr(cases.case_for_detection(session, det.id), 'id', '?')}); "
                          "withdraw the case instead")
    at = at or utcnow()
    det.review_state, det.reviewed_by, det.reviewed_at, det.review_reason = \
        "rejected", actor, at, reason
    key = _audio_key(det.clip)
    fp = session.scalar(select(FalsePositive).where(FalsePositive.audio_key == key,
                                                    FalsePositive.work_id == det.work_id))
    if fp is None:
        fp = FalsePositive(audio_key=key, work_id=det.work_id, detection_id=det.id, actor=actor,
                           reason=reason, at=at)
        session.add(fp)
        session.flush()
    return fp


def is_known_false_positive(session: Session, audio_sha256: str, work_id: str) -> bool:
    """Whether this clip audio and this work were rejected together before."""
    return session.scalar(select(FalsePositive.id).where(
        FalsePositive.audio_key == audio_sha256, FalsePositive.work_id == work_id)) is not None


def auto_confirm_policy() -> dict | None:
    """The auto-confirm thresholds, or None when auto-confirm is off (the default)."""
    policy = dict(config.get("auto_confirm") or {})
    return policy if policy.get("enabled") else None


def qualifies(det: Detection, policy: dict) -> bool:
    """Whether a detection meets every auto-confirm threshold."""
    return (det.score >= float(policy.get("min_score", 1.0))
            and det.duration_s >= float(policy.get("min_duration_s", 0.0))
            and (det.matched_peaks or 0) >= int(policy.get("min_matched_peaks", 0))
            and abs(det.pitch_semitones) <= float(policy.get("max_abs_pitch_semitones", 99.0))
            and not det.clip.licensed)


def auto_confirm(session: Session) -> int:
    """Confirm the pending detections the policy allows; returns how many (0 when off)."""
    policy = auto_confirm_policy()
    if policy is None:
        return 0
    n = 0
    for det in pending(session):
        if qualifies(det, policy):
            confirm(session, det.id, actor=AUTO_ACTOR,
                    reason=f"auto-confirm policy: score {det.score:.3f}, "
                           f"{det.duration_s:.1f} s, {det.matched_peaks} peaks")
            n += 1
    return n
