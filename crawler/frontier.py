"""Reads and writes of the crawl frontier (:class:`crawler.models.FrontierEntry`).

Each function is one short transaction, so a crawl killed at any point leaves
the frontier consistent: what was found is ``discovered``, what was stored is
``fetched`` together with its clip (same transaction, see :mod:`crawler.ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select

from crawler.models import FrontierEntry


@dataclass
class Found:
    """An item link seen on a listing (search, sound, channel or directory)."""

    media_id: str
    url: str
    query: str | None = None
    found_on: str | None = None
    listing: dict[str, Any] = field(default_factory=dict)


def _retryable(row: FrontierEntry, max_attempts: int) -> bool:
    return row.state == "discovered" or (row.state == "failed" and row.attempts < max_attempts)


def record(store, site: str, platform: str, found: Iterable[Found], *, max_attempts: int = 3) -> list[Found]:
    """Write newly found items as ``discovered``; return those still to fetch (new or retryable)."""
    found = list({f.media_id: f for f in found}.values())
    if not found:
        return []
    todo: list[Found] = []
    with store.session() as s:
        rows = {r.media_id: r for r in s.scalars(select(FrontierEntry).where(
            FrontierEntry.platform == platform, FrontierEntry.media_id.in_([f.media_id for f in found])))}
        for f in found:
            row = rows.get(f.media_id)
            if row is None:
                s.add(FrontierEntry(site=site, platform=platform, media_id=f.media_id, url=f.url,
                                    query=f.query, found_on=f.found_on, listing=f.listing,
                                    state="discovered", attempts=0))
                todo.append(f)
            elif _retryable(row, max_attempts):
                todo.append(f)
    return todo


def pending(store, site: str, *, max_attempts: int = 3) -> list[Found]:
    """Items of ``site`` found earlier and not finished (a killed or failed crawl's leftovers)."""
    with store.session() as s:
        rows = s.scalars(select(FrontierEntry).where(
            FrontierEntry.site == site, FrontierEntry.state.in_(("discovered", "failed")))
            .order_by(FrontierEntry.discovered_at)).all()
        return [Found(r.media_id, r.url, r.query, r.found_on, dict(r.listing or {}))
                for r in rows if _retryable(r, max_attempts)]


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


def fetched_with_source(session, source_url: str) -> FrontierEntry | None:
    """A fetched item whose media came from the same file URL (the same media via another page)."""
    return session.scalars(select(FrontierEntry).where(
        FrontierEntry.source_url == source_url, FrontierEntry.state == "fetched")).first()


def counts(store, site: str) -> dict[str, int]:
    from sqlalchemy import func
    with store.session() as s:
        return dict(s.execute(select(FrontierEntry.state, func.count()).where(FrontierEntry.site == site)
                              .group_by(FrontierEntry.state)).all())
