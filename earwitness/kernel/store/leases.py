"""Work handed out with leases: one worker at a time holds an item, and a dead worker's items come back.

A lease is a row ``(queue, item_id) -> owner, expires_at`` in ``work_leases``.
Taking one is a single INSERT ... ON CONFLICT DO UPDATE that only overwrites an
*expired* lease (or one the same owner already holds), so two workers can never
both hold an item, on either engine:

- PostgreSQL: the candidate rows are read ``FOR UPDATE SKIP LOCKED``, so
  concurrent claimers pass over each other's rows instead of queueing behind
  them; the upsert's row lock settles the rare tie.
- SQLite: the claim is one statement, which takes the database's write lock
  at its start (waiting up to ``busy_timeout``), so claims are serialised.

A lease is released when its item is finished (same transaction as the
outcome); a worker that dies simply stops renewing, and its items are taken
again once ``expires_at`` passes, or at once by a claimer on the same host,
which sees that the holder's process is gone (a crawl restarted after a
SIGKILL resumes its items instead of waiting out their leases). Items are identified by their own table's id;
the table of record (frontier, clips) keeps its own state, leases only say who
is working on it now.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import Integer, String, and_, delete, exists, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Select

from earwitness.kernel.store.models import Base, utcnow


class WorkLease(Base):
    """Who is working on one item of one queue, and until when."""

    __tablename__ = "work_leases"

    queue: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()
    taken_at: Mapped[datetime] = mapped_column()
    times_taken: Mapped[int] = mapped_column(Integer, default=1)   # > 1: taken again (a worker died or gave up)


_worker: tuple[int, str] | None = None


def worker_id() -> str:
    """This process's owner name: host, pid and a random tag (a recycled pid is a new worker)."""
    global _worker
    if _worker is None or _worker[0] != os.getpid():
        _worker = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _worker[1]


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(WorkLease)
    if dialect == "sqlite":
        return sqlite.insert(WorkLease)
    raise NotImplementedError(f"leases need SQLite or PostgreSQL, not {dialect}")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # alive, another user's
        return False
    return False


def expire_dead_local(session: Session, queue: str, *, now: datetime | None = None) -> int:
    """Expire the live leases of ``queue`` held by processes of this host that no longer exist."""
    now = now or utcnow()
    prefix = f"{socket.gethostname()}:"
    dead = []
    for item_id, owner in session.execute(select(WorkLease.item_id, WorkLease.owner).where(
            WorkLease.queue == queue, WorkLease.expires_at >= now, WorkLease.owner.startswith(prefix))):
        pid = owner[len(prefix):].split(":", 1)[0]
        if pid.isdigit() and _process_gone(int(pid)):
            dead.append((item_id, owner))
    for item_id, owner in dead:
        session.execute(WorkLease.__table__.update()
                        .where(WorkLease.queue == queue, WorkLease.item_id == item_id, WorkLease.owner == owner)
                        .values(expires_at=now - timedelta(seconds=1)))
    return len(dead)


def _free(queue: str, item_id_col, owner: str, now: datetime):
    """No live lease held by anyone else on the candidate's id."""
    return ~exists().where(WorkLease.queue == queue, WorkLease.item_id == item_id_col,
                           WorkLease.expires_at >= now, WorkLease.owner != owner)


def claim(session: Session, queue: str, candidates: Select, item_id_col, *, lease_s: float,
          owner: str | None = None, now: datetime | None = None) -> list[str]:
    """Take leases on up to ``candidates``' rows (a select of ``item_id_col``, ordered and limited by the caller).

    Rows with a live lease held by another worker are passed over; returns the ids
    now held by ``owner`` (this process by default), in no particular order.
    The caller commits (the session's transaction is the claim's).
    """
    owner = owner or worker_id()
    now = now or utcnow()
    expire_dead_local(session, queue, now=now)
    expires = now + timedelta(seconds=lease_s)
    cand = candidates.where(_free(queue, item_id_col, owner, now))
    if session.get_bind().dialect.name == "postgresql":
        cand = cand.with_for_update(skip_locked=True, of=item_id_col.table)
    source = cand.with_only_columns(literal(queue), item_id_col, literal(owner), literal(expires, WorkLease.expires_at.type),
                                    literal(now, WorkLease.taken_at.type), literal(1))
    ins = _insert(session).from_select(
        ["queue", "item_id", "owner", "expires_at", "taken_at", "times_taken"], source)
    stmt = ins.on_conflict_do_update(
        index_elements=["queue", "item_id"],
        set_={"owner": ins.excluded.owner, "expires_at": ins.excluded.expires_at,
              "taken_at": ins.excluded.taken_at, "times_taken": _times_taken(owner)},
        where=or_(WorkLease.expires_at < now, WorkLease.owner == owner),
    ).returning(WorkLease.item_id)
    return list(session.scalars(stmt))


def _times_taken(owner: str):
    """Counts a take by another owner (a renewal by the holder is not a new take)."""
    return WorkLease.times_taken + (WorkLease.owner != owner).cast(Integer)


def take(session: Session, queue: str, item_id: str, *, lease_s: float, owner: str | None = None,
         now: datetime | None = None) -> bool:
    """Take (or renew) the lease on one item; False when another worker holds a live lease on it."""
    owner = owner or worker_id()
    now = now or utcnow()
    expire_dead_local(session, queue, now=now)
    ins = _insert(session).values(queue=queue, item_id=item_id, owner=owner,
                                  expires_at=now + timedelta(seconds=lease_s), taken_at=now, times_taken=1)
    stmt = ins.on_conflict_do_update(
        index_elements=["queue", "item_id"],
        set_={"owner": ins.excluded.owner, "expires_at": ins.excluded.expires_at,
              "taken_at": ins.excluded.taken_at,
              "times_taken": _times_taken(owner)},
        where=or_(WorkLease.expires_at < now, WorkLease.owner == owner),
    ).returning(WorkLease.item_id)
    return session.scalars(stmt).first() is not None


def release(session: Session, queue: str, item_ids: Iterable[str], *, owner: str | None = None) -> None:
    """Drop the leases on finished items (only ``owner``'s, when given)."""
    ids = list(item_ids)
    if not ids:
        return
    cond = and_(WorkLease.queue == queue, WorkLease.item_id.in_(ids))
    if owner is not None:
        cond = and_(cond, WorkLease.owner == owner)
    session.execute(delete(WorkLease).where(cond))


def holder(session: Session, queue: str, item_id: str) -> WorkLease | None:
    """The lease on an item, live or expired (None if nobody took it or it was released)."""
    return session.get(WorkLease, (queue, item_id))


def held(session: Session, queue: str, *, now: datetime | None = None) -> dict[str, str]:
    """Live leases of a queue: item id -> owner."""
    now = now or utcnow()
    rows = session.execute(select(WorkLease.item_id, WorkLease.owner).where(
        WorkLease.queue == queue, WorkLease.expires_at >= now))
    return dict(rows.all())
