"""Reads and writes of the crawl frontier (:class:`crawler.models.FrontierEntry`).

Each function is one short transaction, so a crawl killed at any point leaves
the frontier consistent: what was found is ``discovered``, what was stored is
``fetched`` together with its clip (same transaction, see :mod:`crawler.ingest`).

Several crawl workers may crawl the same site at once: an item to fetch is
*claimed* (a lease in :mod:`earwitness.kernel.store.leases`, queue ``frontier``)
by the worker that hands it to its fetch queue, and taken again by
:func:`take` just before the fetch. Another worker passes over it while the
lease lives; a worker that dies stops holding it once the lease expires (twice
an item's time limit, so a live fetch is never taken from its worker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterable

from sqlalchemy import and_, or_, select

from crawler import config
from crawler.models import FrontierEntry
from earwitness.kernel.store import leases
from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import utcnow

LEASE_QUEUE = "frontier"


@dataclass
class Found:
    """An item link seen on a listing (search, sound, channel or directory)."""

    media_id: str
    url: str
    query: str | None = None
    found_on: str | None = None
    listing: dict[str, Any] = field(default_factory=dict)


def lease_seconds() -> float:
    """How long a claim lives: twice one item's time limit, so only a dead worker's items are taken again."""
    return 2 * float(config.section()["media"]["item_time_limit_s"])


def _retryable_sql(max_attempts: int):
    return or_(FrontierEntry.state == "discovered",
               and_(FrontierEntry.state == "failed", FrontierEntry.attempts < max_attempts))


def _claimed(session, where, max_attempts: int, lease_s: float | None, limit: int | None = None) -> list[FrontierEntry]:
    """Claim up to ``limit`` retryable rows matching ``where`` for this worker; the rows now held, oldest first."""
    if limit is not None and limit <= 0:
        return []
    candidates = (select(FrontierEntry.id).where(where, _retryable_sql(max_attempts))
                  .order_by(FrontierEntry.discovered_at, FrontierEntry.id))
    if limit is not None:
        candidates = candidates.limit(limit)
    ids = leases.claim(session, LEASE_QUEUE, candidates, FrontierEntry.id,
                       lease_s=lease_seconds() if lease_s is None else lease_s)
    if not ids:
        return []
    return list(session.scalars(select(FrontierEntry).where(FrontierEntry.id.in_(ids))
                                .order_by(FrontierEntry.discovered_at, FrontierEntry.id)))


def _insert_new(session, site: str, platform: str, found: list[Found]) -> None:
    """Insert the items not yet in the frontier; a row another worker inserted meanwhile is left as it is."""
    known = set(session.scalars(select(FrontierEntry.media_id).where(
        FrontierEntry.platform == platform, FrontierEntry.media_id.in_([f.media_id for f in found]))))
    new = [f for f in found if f.media_id not in known]
    if not new:
        return
    now = utcnow()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # a microsecond apart, so "oldest first" is the listing's order
    session.execute(insert(FrontierEntry).values([
        dict(id=new_id(), site=site, platform=platform, media_id=f.media_id, url=f.url, query=f.query,
             found_on=f.found_on, listing=f.listing, state="discovered", attempts=0,
             discovered_at=now + timedelta(microseconds=i), updated_at=now)
        for i, f in enumerate(new)]).on_conflict_do_nothing(index_elements=["platform", "media_id"]))


def record(store, site: str, platform: str, found: Iterable[Found], *, max_attempts: int = 3,
           lease_s: float | None = None, limit: int | None = None) -> list[Found]:
    """Write newly found items as ``discovered``; claim and return those still to fetch (new or retryable).

    At most ``limit`` are claimed (a worker takes a batch; the rest stay for whichever
    worker asks next, see :func:`pending`). An item another worker holds is not returned.
    """
    found = list({f.media_id: f for f in found}.values())
    if not found:
        return []
    with store.session() as s:
        _insert_new(s, site, platform, found)
        held = {r.media_id for r in _claimed(s, and_(FrontierEntry.platform == platform,
                                                     FrontierEntry.media_id.in_([f.media_id for f in found])),
                                             max_attempts, lease_s, limit)}
    return [f for f in found if f.media_id in held]


def pending(store, site: str, *, max_attempts: int = 3, lease_s: float | None = None, limit: int | None = None,
            exclude: Iterable[str] = ()) -> list[Found]:
    """Claim up to ``limit`` unfinished items of ``site``, oldest first: a killed or failed crawl's leftovers,
    what other workers listed and nobody holds, a dead worker's once its lease ran out (``exclude``: media ids
    this worker already has in hand)."""
    where = FrontierEntry.site == site
    exclude = list(exclude)
    if exclude:
        where = and_(where, FrontierEntry.media_id.not_in(exclude))
    with store.session() as s:
        rows = _claimed(s, where, max_attempts, lease_s, limit)
        return [Found(r.media_id, r.url, r.query, r.found_on, dict(r.listing or {})) for r in rows]


def take(session, row: FrontierEntry, *, lease_s: float | None = None) -> bool:
    """Take (or renew) this worker's claim on an item just before fetching it; False if another worker holds it."""
    return leases.take(session, LEASE_QUEUE, row.id, lease_s=lease_seconds() if lease_s is None else lease_s)


def release(store, platform: str, media_id: str) -> None:
    """Give up this worker's claim on an item it will not fetch (over its crawl's limit)."""
    with store.session() as s:
        row = get(s, platform, media_id)
        if row is not None:
            leases.release(s, LEASE_QUEUE, [row.id], owner=leases.worker_id())


def get(session, platform: str, media_id: str) -> FrontierEntry | None:
    return session.scalars(select(FrontierEntry).where(
        FrontierEntry.platform == platform, FrontierEntry.media_id == media_id)).first()


def ensure(session, site: str, platform: str, media_id: str, url: str) -> FrontierEntry:
    """The row for an item, created if a caller fetches without discovering first."""
    row = get(session, platform, media_id)
    if row is None:
        row = FrontierEntry(site=site, platform=platform, media_id=media_id, url=url,
                            state="discovered", attempts=0, listing={})
        session.add(row)
        session.flush()
    return row


def mark(store, platform: str, media_id: str, state: str, **fields: Any) -> None:
    """Set an item's outcome (gone, rejected, failed...) with its reason."""
    with store.session() as s:
        row = get(s, platform, media_id)
        if row is None:
            return
        row.state = state
        for key, value in fields.items():
            setattr(row, key, value)
        leases.release(s, LEASE_QUEUE, [row.id])


def finished(session, row: FrontierEntry) -> None:
    """Drop the claim on an item whose outcome is being written in ``session``'s transaction."""
    leases.release(session, LEASE_QUEUE, [row.id])


def fetched_with_source(session, source_url: str) -> FrontierEntry | None:
    """A fetched item whose media came from the same file URL (the same media via another page)."""
    return session.scalars(select(FrontierEntry).where(
        FrontierEntry.source_url == source_url, FrontierEntry.state == "fetched")).first()


def counts(store, site: str) -> dict[str, int]:
    from sqlalchemy import func
    with store.session() as s:
        return dict(s.execute(select(FrontierEntry.state, func.count()).where(FrontierEntry.site == site)
                              .group_by(FrontierEntry.state)).all())
