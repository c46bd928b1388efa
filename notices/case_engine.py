"""The case engine: one case moves by one declared event, and every move is an append-only record.

:func:`transition` applies a :mod:`~notices.lifecycle` event to one case and
writes one :class:`~earwitness.kernel.store.case_models.CaseEvent` (actor, time,
reason, details); :func:`record` appends events that keep the state. A move is
conditional on the state it read (``UPDATE ... WHERE id = ? AND state = ? AND
state_since = ?``): of two writers racing two events on one case, exactly one
applies, and the other gets :class:`CaseConflict` with nothing of it written. It knows
nothing of letters: :mod:`notices.letters` and :func:`notices.cases.apply` use it
to move cases and letters together, and are what the rest of the system calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from earwitness.kernel.store.case_models import Case, CaseEvent
from earwitness.kernel.store.models import utcnow
from notices import calendars, config, lifecycle
from notices.exceptions import MissingDetails, NotFound, NoticesError, TransitionNotAllowed


class CaseConflict(NoticesError):
    """Another writer moved the case between this transition's read and its write."""


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


def allowed_events(case: Case) -> list[str]:
    """The transition events a person may apply to the case now (what the web UI offers).

    Letter events (:data:`~notices.lifecycle.LETTER_ONLY`) are not among them: a case
    takes those only with its letter.
    """
    return [e for e in lifecycle.events_from(case.state) if e not in lifecycle.LETTER_ONLY]


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


def check(case: Case, event: str, *, reason: str | None = None, **details: Any) -> lifecycle.Transition:
    """The transition ``event`` would take on ``case``; raises, changing nothing, if it would be refused."""
    t = lifecycle.TRANSITIONS.get(event)
    if t is None:
        raise NoticesError(f"unknown case event {event!r}; events: {', '.join(lifecycle.TRANSITIONS)}")
    if case.state not in t.sources:
        raise TransitionNotAllowed(case.state, event, allowed_events(case))
    missing = [k for k in t.requires if details.get(k) in (None, "")]
    if t.needs_reason and not (reason and reason.strip()):
        missing.append("reason")
    if missing:
        raise MissingDetails(f"event {event!r} on case {case.id} needs: {', '.join(missing)}")
    for key in ("sent_at", "received_at"):
        if key in t.requires:
            _as_time(details[key], key)
    return t


def transition(session: Session, case_id: str, event: str, *, actor: str, reason: str | None = None,
               at: datetime | None = None, **details: Any) -> Case:
    """Move a case by ``event`` alone; record who, when, why. Raises if the state does not allow it.

    This is the engine under :func:`notices.cases.apply` and the letter functions,
    which keep cases and letters moving together; call those, not this.
    """
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
    changes = _event_changes(case, event, at, details)
    before = case.state
    _claim(session, case, event, {"state": t.target, "state_since": at, **changes})
    for name, value in {"state": t.target, "state_since": at, **changes}.items():
        setattr(case, name, value)      # the same values on the object: the flush mirrors the change
    _append(session, case, event, before, actor=actor, reason=reason, at=at, details=details)
    return case


def _event_changes(case: Case, event: str, at: datetime, details: dict[str, Any]) -> dict[str, Any]:
    """The columns ``event`` sets besides the state (validating its details; ``details`` is completed)."""
    conf = config.section()
    if event == "draft_notice":
        return {"notice_id": details["notice_id"]}
    if event == "withdraw_draft":
        return {"notice_id": None}
    if event == "send_notice":
        sent_at = _as_time(details["sent_at"], "sent_at")
        details["sent_at"] = sent_at
        return {"sent_at": sent_at, "sla_due_at": sent_at + timedelta(days=float(conf["sla_days"]))}
    if event == "verify_removed":
        return {"removed_at": at}
    if event == "counter_notice":
        basis = details["basis"]
        if basis not in lifecycle.DISPUTE_BASES:
            raise MissingDetails(f"unknown dispute basis {basis!r}; one of: "
                                 f"{', '.join(lifecycle.DISPUTE_BASES)}")
        received = _as_time(details["received_at"], "received_at")
        if received > utcnow() + timedelta(minutes=5):
            raise MissingDetails(f"received_at {received.isoformat()} is in the future")
        if case.sent_at is not None and received < case.sent_at:
            raise MissingDetails(f"a counter-notice received at {received.isoformat()} predates the notice, "
                                 f"sent at {case.sent_at.isoformat()}")
        period = calendars.period(basis, received, conf["dispute"])
        deadline = period.ends_at.astimezone(timezone.utc)
        details["received_at"] = received
        details.update(deadline_at=deadline, **period.as_details())
        return {"dispute_basis": basis, "deadline_at": deadline}
    if event in ("close", "withdraw", "retract_notice"):
        # withdraw: dropped before sending, so in no letter
        return {"closed_at": at, **({"notice_id": None} if event == "withdraw" else {})}
    return {}


def _claim(session: Session, case: Case, event: str, values: dict[str, Any]) -> None:
    """Write ``values`` only if the case is still in the state this transition read.

    The UPDATE is conditional on the state and the time it was entered (the
    version: it changes with every move, so a case that left the state and came
    back is not taken for unchanged). On PostgreSQL a concurrent writer's row lock
    makes this wait, then the condition is checked on the committed row; on SQLite
    writes are serialised and the condition sees the last commit. No row means
    another writer got there first: :class:`CaseConflict`, nothing written.
    """
    read_state, read_since = case.state, case.state_since
    session.flush()
    res = session.execute(update(Case)
                          .where(Case.id == case.id, Case.state == read_state, Case.state_since == read_since)
                          .values(**values)
                          .execution_options(synchronize_session=False))
    if res.rowcount == 1:
        return
    now = session.execute(select(Case.state, Case.state_since).where(Case.id == case.id)).first()
    raise CaseConflict(f"case {case.id} changed while {event!r} was being applied: it was {read_state!r} "
                       f"when read and is now {now.state if now else 'gone'!r}; nothing was recorded, "
                       f"look at the case again")


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
