"""The app's audit log: who logged in, who failed, what admins and reviewers changed.

Entries are rows of :class:`~webapp.models.AuditEntry`, written in the request's
transaction (an action that rolls back leaves no entry). Failed logins are also
what :func:`failures` counts for the login throttle: the store is shared by every
worker process, so the limit holds across all of them and across restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import AuditEntry

LOGIN_FAILED = "login_failed"


def record(session: Session, action: str, *, actor: str | None, subject: str | None = None,
           remote_addr: str | None = None, detail: str | None = None) -> AuditEntry:
    """Add one entry (flushed with the request's transaction)."""
    entry = AuditEntry(action=action, actor=actor, subject=(subject or None) and subject[:128],
                       remote_addr=remote_addr, detail=detail)
    session.add(entry)
    return entry


def failures(session: Session, *, window_minutes: float, subject: str | None = None,
             remote_addr: str | None = None, since: datetime | None = None) -> int:
    """Failed logins in the last ``window_minutes`` for one account name or one address (after ``since``)."""
    start = datetime.now(timezone.utc) - timedelta(minutes=window_minutes)
    if since is not None and since > start:
        start = since
    q = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == LOGIN_FAILED,
                                                           AuditEntry.at >= start)
    if subject is not None:
        q = q.where(AuditEntry.subject == subject[:128])
    if remote_addr is not None:
        q = q.where(AuditEntry.remote_addr == remote_addr)
    return int(session.scalar(q) or 0)


def page(session: Session, *, action: str | None = None, actor: str | None = None, limit: int = 100,
         offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Newest entries first, optionally of one action or one actor, and the total count."""
    q = select(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    if actor:
        q = q.where((AuditEntry.actor == actor) | (AuditEntry.subject == actor))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
