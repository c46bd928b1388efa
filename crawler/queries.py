"""Search queries: catalog titles, artists and aliases from the store, plus configured keywords."""

from __future__ import annotations

from sqlalchemy import select

from crawler import config
from earwitness.kernel.store.models import Work


def catalog_queries(store, *, max_queries: int | None = None) -> list[str]:
    """Distinct queries, most specific first: "title artist", then titles, aliases, keywords."""
    q = config.section().get("queries", {})
    limit = int(max_queries or q.get("max_queries", 50))
    out: list[str] = []
    seen: set[str] = set()

    def add(text: str | None) -> None:
        text = " ".join((text or "").split())
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)

    if q.get("from_catalog", True):
        with store.session() as s:
            works = s.scalars(select(Work).order_by(Work.id)).all()
        for w in works:
            add(f"{w.title} {w.artist}" if w.title and w.artist else w.title)
        for w in works:
            add(w.title)
            for alias in w.aliases or []:
                add(alias)
    for kw in q.get("keywords") or []:
        add(str(kw))
    return out[:limit]
