"""Search queries that cover the catalog: keywords first, then every work in turn, least recently searched first.

The candidates are the configured keywords (``crawler.queries.keywords``, always first: a user
put them there), then per work "title artist", the title and each alias. Each site remembers
when it last ran each query (``<home>/crawler/queries.json``: site -> query -> time), and a
crawl takes the ``max_queries`` candidates it has not run for longest (never run first), so
crawl after crawl the whole catalog is searched, not the first 50 works by id forever.
:func:`coverage` is the share of works one of whose queries ran on a site in the last N days.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from crawler import config
from earwitness.kernel import settings as ew_settings
from earwitness.kernel.store.models import Work

NEVER = datetime.min.replace(tzinfo=timezone.utc)


@dataclass
class Candidate:
    text: str
    work_ids: set[str] = field(default_factory=set)
    keyword: bool = False


def candidates(store) -> list[Candidate]:
    """Every distinct query, keywords first, then per work from most to least specific."""
    q = config.section()["queries"]
    out: dict[str, Candidate] = {}

    def add(text: str | None, work_id: str | None = None, keyword: bool = False) -> None:
        text = " ".join((text or "").split())
        if not text:
            return
        c = out.setdefault(text.lower(), Candidate(text, keyword=keyword))
        if work_id:
            c.work_ids.add(work_id)

    for kw in q["keywords"] or []:
        add(str(kw), keyword=True)
    if q["from_catalog"]:
        with store.session() as s:
            works = s.scalars(select(Work).order_by(Work.id)).all()
        for w in works:
            add(f"{w.title} {w.artist}" if w.title and w.artist else w.title, w.id)
        for w in works:
            add(w.title, w.id)
            for alias in w.aliases or []:
                add(alias, w.id)
    return list(out.values())


def _path():
    return ew_settings.get().path("crawler") / "queries.json"


def history(site: str) -> dict[str, datetime]:
    """When each query last ran on ``site`` (lower-cased query -> aware time)."""
    path = _path()
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text(encoding="utf-8")).get(site, {})
    except ValueError:
        return {}
    return {k: datetime.fromisoformat(v) for k, v in rows.items()}


def record_run(site: str, queries: list[str], *, now: datetime | None = None) -> None:
    """Remember that ``queries`` ran on ``site`` now."""
    now = now or datetime.now(timezone.utc)
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        data = {}
    rows = data.setdefault(site, {})
    for q in queries:
        rows[" ".join(q.split()).lower()] = now.isoformat(timespec="seconds")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def catalog_queries(store, *, site: str | None = None, max_queries: int | None = None) -> list[str]:
    """This crawl's queries: keywords, then the candidates ``site`` has not run for longest."""
    limit = int(max_queries or config.section()["queries"]["max_queries"])
    cands = candidates(store)
    ran = history(site) if site else {}
    keywords = [c for c in cands if c.keyword]
    rest = [c for c in cands if not c.keyword]
    rest.sort(key=lambda c: ran.get(c.text.lower(), NEVER))     # stable: never run keep catalog order
    return [c.text for c in (keywords + rest)[:limit]]


def coverage(store, site: str, *, days: float = 7, now: datetime | None = None) -> dict[str, float | int]:
    """Works one of whose queries ran on ``site`` in the last ``days`` days, of all works."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    ran = history(site)
    works: set[str] = set()
    covered: set[str] = set()
    for c in candidates(store):
        works |= c.work_ids
        if ran.get(c.text.lower(), NEVER) >= since:
            covered |= c.work_ids
    return {"works": len(works), "searched": len(covered), "days": days,
            "share": round(len(covered) / len(works), 4) if works else 0.0}
