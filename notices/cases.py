"""Apply lifecycle events to cases, open cases from confirmed detections, list and show them.

Every change goes through :func:`apply` (transitions) or :func:`record` (notes and
re-check results): each writes one append-only :class:`~earwitness.kernel.store.case_models.CaseEvent`
with actor, time and reason. Illegal moves raise :class:`TransitionNotAllowed`
naming the state and the event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from earwitness.kernel.store.models import Clip, Detection, utcnow
from notices import config, lifecycle
from notices.exceptions import MissingDetails, NotFound, NoticesError, TransitionNotAllowed
from earwitness.kernel.store.case_models import Case, CaseEvent

# states in which the item is taken down: a new sighting is a re-upload
REMOVED_STATES = ("removed", "resolved")


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


def allowed_events(case: Case) -> list[str]:
    """The transition events the case accepts now (what the web UI offers)."""
    return lifecycle.events_from(case.state)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _as_time(value: Any, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise MissingDetails(f"{name}: not an ISO time: {value!r}") from exc
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MissingDetails(f"{name} must be a timezone-aware time, got {value!r}")
    return value


def _append(session: Session, case: Case, event: str, from_state: str | None, *, actor: str,
            reason: str | None, at: datetime, details: dict) -> CaseEvent:
    if not actor or not str(actor).strip():
        raise MissingDetails("every case event needs an actor")
    last = session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case.id)) \
        if case.id else None
    ev = CaseEvent(case=case, seq=(last or 0) + 1, event=event, from_state=from_state,
                   to_state=case.state, actor=actor, at=at, reason=reason,
                   details=_jsonable(details))
    session.add(ev)
    session.flush()
    return ev


def apply(session: Session, case_id: str, event: str, *, actor: str, reason: str | None = None,
          at: datetime | None = None, **details: Any) -> Case:
    """Move a case by ``event``; record who, when, why. Raises if the state does not allow it."""
    case = get_case(session, case_id)
    t = lifecycle.TRANSITIONS.get(event)
    if t is None:
        raise NoticesError(f"unknown case event {event!r}; events: {', '.join(lifecycle.TRANSITIONS)}")
    if case.state not in t.sources:
        raise TransitionNotAllowed(case.state, event, allowed_events(case))
    if event == "counter_notice" and not details.get("basis"):
        details["basis"] = config.per_platform_nested("dispute", "default_basis", case.platform)
    missing = [k for k in t.requires if details.get(k) in (None, "")]
    if t.needs_reason and not (reason and reason.strip()):
        missing.append("reason")
    if missing:
        raise MissingDetails(f"event {event!r} on case {case.id} needs: {', '.join(missing)}")
    at = _as_time(at, "at") if at is not None else utcnow()
    conf = config.section()
    if event == "draft_notice":
        case.notice_id = details["notice_id"]
    elif event == "withdraw_draft":
        case.notice_id = None
    elif event == "send_notice":
        sent_at = _as_time(details["sent_at"], "sent_at")
        details["sent_at"] = sent_at
        case.sent_at = sent_at
        case.sla_due_at = sent_at + timedelta(days=float(conf.get("sla_days", 3)))
    elif event == "verify_removed":
        case.removed_at = at
    elif event == "counter_notice":
        basis = details["basis"]
        if basis not in lifecycle.DISPUTE_BASES:
            raise MissingDetails(f"unknown dispute basis {basis!r}; one of: "
                                 f"{', '.join(lifecycle.DISPUTE_BASES)}")
        received = _as_time(details["received_at"], "received_at")
        details["received_at"] = received
        deadline, computed = lifecycle.dispute_deadline(basis, received, conf.get("dispute") or {})
        case.dispute_basis, case.deadline_at = basis, deadline
        details.update(deadline_at=deadline, law=lifecycle.DISPUTE_BASES[basis], **computed)
    elif event in ("close", "withdraw"):
        case.closed_at = at
    before = case.state
    case.state, case.state_since = t.target, at
    _append(session, case, event, before, actor=actor, reason=reason, at=at, details=details)
    return case


def record(session: Session, case_id: str, event: str, *, actor: str, reason: str | None = None,
           at: datetime | None = None, **details: Any) -> CaseEvent:
    """Append a record that keeps the state (note, re-check result, re-upload link)."""
    if event not in lifecycle.RECORDS:
        raise NoticesError(f"{event!r} is not a record event; records: {', '.join(lifecycle.RECORDS)}")
    case = get_case(session, case_id)
    at = _as_time(at, "at") if at is not None else utcnow()
    return _append(session, case, event, case.state, actor=actor, reason=reason, at=at,
                   details=details)


def note(session: Session, case_id: str, text: str, *, actor: str) -> CaseEvent:
    if not text.strip():
        raise MissingDetails("a note needs text")
    return record(session, case_id, "note", actor=actor, reason=text)


def case_for_detection(session: Session, detection_id: str) -> Case | None:
    return session.scalar(select(Case).where(Case.detections.any(Detection.id == detection_id)))


def _previous_removed(session: Session, clip: Clip) -> Case | None:
    """A removed case for the same item, or for the same audio on the same platform."""
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
        return session.scalars(q).first()
    return None


def open_or_attach(session: Session, detection: Detection, *, actor: str,
                   reason: str | None = None, at: datetime | None = None) -> Case:
    """The case for a confirmed detection: the item's open case, else a new one.

    One case per infringing item (platform + media id). A sighting of content
    that was removed (same item, or same audio on the same platform) opens a new
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
    previous = _previous_removed(session, clip)
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
