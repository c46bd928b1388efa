"""Write an outbox row for every change to a mirrored record, in the same transaction.

A record class opts in by setting ``__outbox__`` to its index family. The
listener runs on every session flush, so no writer can forget it and no change
can commit without its outbox row (or the other way round). The Elasticsearch
sync job drains the table; the SQL store stays the system of record.
"""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from earwitness.kernel.store.models import OutboxEntry


def _family(obj) -> str | None:
    return getattr(type(obj), "__outbox__", None)


def _key(obj) -> str:
    ident = inspect(obj).identity or tuple(
        getattr(obj, c.key) for c in inspect(type(obj)).primary_key)
    return "/".join(str(v) for v in ident)


@event.listens_for(Session, "before_flush")
def _record_changes(session: Session, _flush_context, _instances) -> None:
    entries = []
    for obj in session.new:
        if _family(obj):
            entries.append((obj, "upsert"))
    for obj in session.dirty:
        if _family(obj) and session.is_modified(obj, include_collections=False):
            entries.append((obj, "upsert"))
    for obj in session.deleted:
        if _family(obj):
            entries.append((obj, "delete"))
    if not entries:
        return
    # primary keys with Python-side defaults are assigned at flush: fill them now
    for obj, _ in entries:
        for col in inspect(type(obj)).primary_key:
            if getattr(obj, col.key) is None and col.default is not None and col.default.is_callable:
                setattr(obj, col.key, col.default.arg({}))
    for obj, op in entries:
        session.add(OutboxEntry(entity=_family(obj), entity_id=_key(obj), op=op))
