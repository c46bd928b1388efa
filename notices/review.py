"""Review of detections: confirm (opens or joins a case), reject (kept as a known false positive).

A rejected pairing of clip audio and work is never raised again: the matcher glue
calls :func:`is_known_false_positive` before recording a detection. Auto-confirm
(off by default) confirms pending detections that meet every threshold in
``notices.auto_confirm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from threading import Event

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from earwitness.kernel.store.models import Clip, Detection, utcnow
from notices import cases, config
from notices.exceptions import MissingDetails, NotFound, ReviewError
from earwitness.kernel.store.case_models import Case, FalsePositive

AUTO_ACTOR = "auto-confirm"


class ReviewConflict(ReviewError):
    """Another writer changed the detection between this review's read and its write."""


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


def _claim(session: Session, det: Detection, expected: str, new_state: str, *, actor: str,
           at: datetime, reason: str | None) -> bool:
    """Move ``det`` from the review state this review read to ``new_state``, in the database.

    The UPDATE is conditional on the state read (``WHERE review_state = expected``),
    so of two reviews racing on one detection exactly one applies; the other
    gets False and nothing of it is written. The ORM object is then set to the
    same values, so the flush's outbox listener mirrors the change.
    """
    session.flush()
    res = session.execute(update(Detection)
                          .where(Detection.id == det.id, Detection.review_state == expected)
                          .values(review_state=new_state, reviewed_by=actor, reviewed_at=at,
                                  review_reason=reason)
                          .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        return False
    det.review_state, det.reviewed_by, det.reviewed_at, det.review_reason = new_state, actor, at, reason
    return True


def _current_state(session: Session, det: Detection) -> str | None:
    session.expire(det)
    return session.scalar(select(Detection.review_state).where(Detection.id == det.id))


def _conflict(det: Detection, read: str, now: str | None, action: str) -> ReviewConflict:
    return ReviewConflict(f"detection {det.id} changed while it was being {action}: it was {read!r} when "
                          f"read and is now {now!r} (by {det.reviewed_by or 'another writer'}); "
                          f"nothing was recorded, look at it again")


def confirm(session: Session, detection_id: str, *, actor: str, reason: str | None = None,
            at: datetime | None = None) -> Case:
    """Confirm a detection and return its case (a new one, or the item's open case).

    The state change is conditional on the state read: a reject that won the
    race makes this confirm fail with :class:`ReviewConflict` (nothing applied).
    """
    det = get_detection(session, detection_id)
    if det.review_state == "rejected":
        raise ReviewError(f"detection {det.id} was rejected by {det.reviewed_by}: "
                          f"{det.review_reason}; it cannot be confirmed")
    if det.clip.licensed:
        raise ReviewError(f"detection {det.id}: clip {det.clip_id} is marked licensed")
    if not actor:
        raise MissingDetails("confirm needs an actor")
    at = at or utcnow()
    read = det.review_state
    if read != "confirmed" and not _claim(session, det, read, "confirmed", actor=actor, at=at,
                                          reason=reason):
        now = _current_state(session, det)
        if now != "confirmed":
            raise _conflict(det, read, now, "confirmed")
        # another reviewer confirmed it first: the same outcome, reached once
    return _open_or_attach(session, det, actor=actor, reason=reason, at=at)


def _open_or_attach(session: Session, det: Detection, *, actor: str, reason: str | None,
                    at: datetime) -> Case:
    """The detection's case; when another writer opened the item's case meanwhile, attach to it.

    One open case per item is enforced by a partial unique index (migration
    ``0016_one_open_case_per_item``): the losing insert fails inside a savepoint
    and the second try finds the winner's case.
    """
    for attempt in range(3):
        try:
            with session.begin_nested():
                return cases.open_or_attach(session, det, actor=actor, reason=reason, at=at)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def reject(session: Session, detection_id: str, *, actor: str, reason: str,
           at: datetime | None = None) -> FalsePositive:
    """Reject a detection as a false positive; the clip audio and work are never paired again.

    Conditional on the state read: a confirm that won the race makes this
    reject fail with :class:`ReviewConflict` (no false-positive row, no state change).
    """
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
    read = det.review_state
    if read != "rejected" and not _claim(session, det, read, "rejected", actor=actor, at=at,
                                         reason=reason):
        now = _current_state(session, det)
        if now != "rejected":
            raise _conflict(det, read, now, "rejected")
    key = _audio_key(det.clip)
    for attempt in range(3):
        fp = session.scalar(select(FalsePositive).where(FalsePositive.audio_key == key,
                                                        FalsePositive.work_id == det.work_id))
        if fp is not None:
            return fp
        try:
            with session.begin_nested():
                fp = FalsePositive(audio_key=key, work_id=det.work_id, detection_id=det.id,
                                   actor=actor, reason=reason, at=at)
                session.add(fp)
                session.flush()
            return fp
        except IntegrityError:   # another rejection of the same audio and work got there first
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def reopen(session: Session, detection_id: str, *, actor: str, reason: str,
           at: datetime | None = None) -> Detection:
    """Undo a decision (a misclick): the detection goes back to pending, with who and why.

    Reopening a rejection lifts the false-positive pairing it recorded. Reopening a
    confirmation takes the detection out of its case while the case is still only
    ``confirmed`` (no letter yet); a case left with no detection is withdrawn. Once
    a letter covers the case, the case must be handled first (refused with a reason).
    """
    det = get_detection(session, detection_id)
    if not reason or not reason.strip():
        raise MissingDetails("reopening a decision needs a reason")
    if not actor:
        raise MissingDetails("reopen needs an actor")
    read = det.review_state
    if read not in ("confirmed", "rejected"):
        raise ReviewError(f"detection {det.id} is {read}: there is no decision to reopen")
    at = at or utcnow()
    case = cases.case_for_detection(session, det.id) if read == "confirmed" else None
    if case is not None and case.state != "confirmed":
        raise ReviewError(f"detection {det.id} is in case {case.id}, which is {case.state}; "
                          "withdraw the letter or the case first")
    if not _claim(session, det, read, "pending", actor=actor, at=at, reason=f"reopened: {reason}"):
        raise _conflict(det, read, _current_state(session, det), "reopened")
    if read == "rejected":
        for fp in session.scalars(select(FalsePositive).where(FalsePositive.audio_key == _audio_key(det.clip),
                                                              FalsePositive.work_id == det.work_id)):
            session.delete(fp)
    elif case is not None:
        case.detections.remove(det)
        cases.record(session, case.id, "note", actor=actor, at=at,
                     reason=f"detection {det.id} reopened for review: {reason}", detection_id=det.id)
        if not case.detections:
            cases.apply(session, case.id, "withdraw", actor=actor, at=at,
                        reason=f"its only detection {det.id} was reopened for review: {reason}")
    session.flush()
    return det


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


@dataclass
class AutoConfirmResult:
    """What one auto-confirm pass did; ``errors`` names each detection that could not be confirmed."""

    confirmed: int = 0
    failed: int = 0
    skipped: int = 0         # decided by a reviewer while the pass ran
    stopped: bool = False
    errors: list[str] = field(default_factory=list)


def auto_confirm_pass(session: Session, *, stop: Event | None = None) -> AutoConfirmResult:
    """Confirm the pending detections the policy allows, one short transaction each.

    Commits after every detection, so SQLite's write lock is held for one
    confirmation at a time, never for the whole queue; a detection that cannot be
    confirmed (a reviewer got there first, a broken record) is rolled back,
    recorded in ``errors`` and skipped. ``stop`` is checked between detections.
    """
    out = AutoConfirmResult()
    policy = auto_confirm_policy()
    if policy is None:
        return out
    ids = [d.id for d in pending(session) if qualifies(d, policy)]
    session.commit()
    for det_id in ids:
        if stop is not None and stop.is_set():
            out.stopped = True
            break
        try:
            det = session.get(Detection, det_id, populate_existing=True)   # as it is now, not as listed
            if det is None or det.review_state != "pending":
                session.rollback()
                continue
            confirm(session, det_id, actor=AUTO_ACTOR,
                    reason=f"auto-confirm policy: score {det.score:.3f}, "
                           f"{det.duration_s:.1f} s, {det.matched_peaks} peaks")
            session.commit()
            out.confirmed += 1
        except ReviewConflict:   # a reviewer decided it meanwhile: their decision stands
            session.rollback()
            out.skipped += 1
        except Exception as exc:  # noqa: BLE001 - one bad detection never stops the pass
            session.rollback()
            out.failed += 1
            if len(out.errors) < 20:
                out.errors.append(f"detection {det_id}: {type(exc).__name__}: {exc}")
    return out


def auto_confirm(session: Session) -> int:
    """Confirm the pending detections the policy allows; returns how many (0 when off)."""
    return auto_confirm_pass(session).confirmed
