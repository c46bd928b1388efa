"""Cases: apply lifecycle events (kept in step with letters), open cases from confirmed detections, list them.

Every change goes through :func:`apply` (transitions) or :func:`record` (notes and
re-check results): each writes one append-only :class:`~earwitness.kernel.store.case_models.CaseEvent`
with actor, time and reason. Illegal moves raise :class:`TransitionNotAllowed`
naming the state and the event. A case and its letter move together:
``draft_notice``, ``send_notice`` and ``retract_notice`` are refused here (they are
the letter's to apply: ``notices draft``, ``notices send``, ``notices retract``), and
withdrawing a case, or its draft, while it is in an open letter takes it out of
the letter (:func:`notices.letters.remove_case`), all or nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from earwitness.kernel.store.case_models import Case
from earwitness.kernel.store.models import Clip, Detection, utcnow
from notices import letters, lifecycle
from notices.case_engine import _append, allowed_events, get_case, note, record, transition
from notices.exceptions import LetterOnlyEvent, MissingDetails, NoticesError

__all__ = ["apply", "allowed_events", "get_case", "note", "record", "follow_up", "case_for_detection",
           "open_or_attach", "list_cases", "REMOVED_STATES"]

# states in which the item is taken down: a new sighting is a re-upload
REMOVED_STATES = ("removed", "resolved")

_LETTER_HINT = {
    "draft_notice": "draft a letter: `notices draft --platform P` (or the Notices page)",
    "send_notice": "record the letter as sent: `notices send {notice}` (or the letter's page)",
    "retract_notice": "retract the letter: `notices retract {notice}`",
}


def apply(session: Session, case_id: str, event: str, *, actor: str, reason: str | None = None,
          at: datetime | None = None, **details: Any) -> Case:
    """Move a case by ``event``, keeping its letter in step; raises (changing nothing) if refused."""
    case = get_case(session, case_id)
    if event in lifecycle.LETTER_ONLY:
        raise LetterOnlyEvent(
            f"case {case.id}: {event!r} is a letter event; a case takes it only with its letter: "
            + _LETTER_HINT[event].format(notice=case.notice_id or "NOTICE_ID"))
    if event in ("withdraw_draft", "withdraw") and case.state in lifecycle.IN_OPEN_LETTER:
        return letters.remove_case(session, case, event, actor=actor, reason=reason, at=at)
    return transition(session, case.id, event, actor=actor, reason=reason, at=at, **details)


def follow_up(session: Session, case_id: str, *, channel: str, text: str, actor: str,
              at: datetime | None = None) -> None:
    """Record a follow-up with the platform (a notice it ignored or rejected): channel and what was said."""
    case = get_case(session, case_id)
    if case.state not in ("notice_sent", "rejected"):
        raise NoticesError(f"case {case.id} is {case.state}: a follow-up is for a sent or rejected notice")
    if not (channel.strip() and text.strip()):
        raise MissingDetails("a follow-up needs its channel and what was said")
    record(session, case.id, "follow_up", actor=actor, reason=text, at=at, channel=channel)


def case_for_detection(session: Session, detection_id: str) -> Case | None:
    return session.scalar(select(Case).where(Case.detections.any(Detection.id == detection_id)))


def _previous_removed(session: Session, clip: Clip, work_id: str | None = None) -> Case | None:
    """A removed case for the same item, the same audio on the same platform, or the same work
    from the same uploader on the same platform (a re-encoded or re-cut re-upload)."""
    same_item = select(Case).where(Case.platform == clip.platform, Case.media_id == clip.media_id,
                                   Case.state.in_(REMOVED_STATES + ("closed",)),
                                   Case.removed_at.is_not(None))
    case = session.scalars(same_item.order_by(Case.opened_at.desc())).first()
    if case is not None:
        return case
    if clip.audio_sha256:
        q = (select(Case).join(Case.detections).join(Detection.clip)
             .where(Case.platform == clip.platform, Clip.audio_sha256 == clip.audio_sha256,
                    Case.state.in_(REMOVED_STATES + ("closed",)), Case.removed_at.is_not(None))
             .order_by(Case.opened_at.desc()))
        case = session.scalars(q).first()
        if case is not None:
            return case
    uploader = clip.uploader_id or clip.uploader
    if work_id and uploader:
        who = Clip.uploader_id == clip.uploader_id if clip.uploader_id else Clip.uploader == clip.uploader
        q = (select(Case).join(Case.detections).join(Detection.clip)
             .where(Case.platform == clip.platform, Detection.work_id == work_id, who,
                    Case.state.in_(REMOVED_STATES + ("closed",)), Case.removed_at.is_not(None))
             .order_by(Case.opened_at.desc()))
        return session.scalars(q).first()
    return None


def open_or_attach(session: Session, detection: Detection, *, actor: str,
                   reason: str | None = None, at: datetime | None = None) -> Case:
    """The case for a confirmed detection: the item's open case, else a new one.

    One case per infringing item (platform + media id). A sighting of content
    that was removed (same item; same audio on the same platform; or the same work
    from the same uploader on the same platform, re-encoded or re-cut) opens a new
    case linked to the old one, and the old case records the re-upload.
    """
    at = at or utcnow()
    clip = detection.clip
    existing = case_for_detection(session, detection.id)
    if existing is not None:
        return existing
    q = (select(Case).where(Case.platform == clip.platform, Case.media_id == clip.media_id,
                            Case.state.not_in(REMOVED_STATES + lifecycle.TERMINAL))
         .order_by(Case.opened_at.desc()))
    case = session.scalars(q).first()
    if case is not None:
        case.detections.append(detection)
        record(session, case.id, "detection_attached", actor=actor, reason=reason, at=at,
               detection_id=detection.id, work_id=detection.work_id)
        return case
    previous = _previous_removed(session, clip, detection.work_id)
    case = Case(platform=clip.platform, media_id=clip.media_id, url=clip.url,
                uploader=clip.uploader, title=clip.title, state="confirmed", opened_at=at,
                state_since=at, previous_case_id=previous.id if previous else None)
    case.detections.append(detection)
    session.add(case)
    session.flush()
    _append(session, case, "opened", None, actor=actor, reason=reason, at=at,
            details={"detection_id": detection.id, "work_id": detection.work_id,
                     "previous_case_id": case.previous_case_id})
    if previous is not None:
        record(session, previous.id, "reupload_found", actor=actor, at=at,
               reason=f"re-upload opened case {case.id}", new_case_id=case.id,
               url=clip.url, media_id=clip.media_id)
    return case


def list_cases(session: Session, *, state: str | None = None, platform: str | None = None,
               overdue: bool = False, now: datetime | None = None) -> list[Case]:
    q = select(Case).order_by(Case.opened_at)
    if state:
        if state not in lifecycle.STATES:
            raise NoticesError(f"unknown state {state!r}; states: {', '.join(lifecycle.STATES)}")
        q = q.where(Case.state == state)
    if platform:
        q = q.where(Case.platform == platform)
    out = list(session.scalars(q))
    if overdue:
        out = [c for c in out if c.is_overdue(now)]
    return out
