"""Room discovery by search: catalog queries through each live platform's own search page; rooms ranked and rotated.

A live site's room search is a ``discovery:``-shaped block (see :mod:`crawler.discovery`): the
site YAML's ``live.search`` for YAML sites (the fixture platform), the adapter's ``room_search``
for Huya, Douyu and Twitch (``crawler/spiders/<platform>.py``). :func:`search_rooms` opens the
platform's search page for each query in the same persistent, logged-in Chromium the VOD
discovery uses and reads the JSON the page's own scripts receive, so signatures stay the
platform's. Each live room found becomes a frontier-shaped :class:`crawler.frontier.Found`
(``media_id`` the room id, ``listing`` its title, streamer, viewers and category).

:func:`rank_rooms` orders candidates for the budget (``live.watch.max_rooms``): rooms with a hit in
the last day first, then rooms in a music category (``live.search.music_categories``), then by
viewers; a room watched within ``live.search.rotate_min`` minutes (and without a recent hit) goes
behind the rooms not watched lately, so the rest rotate in round after round. When each room
was last watched and last hit comes from the stored windows (:func:`crawler.live_store.coverage`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable

from crawler import config, discovery, outcomes
from crawler.config import SiteConfig
from crawler.frontier import Found

log = logging.getLogger(__name__)

ROOM_KEYS = ("title", "uploader", "uploader_id", "view_count", "category")

Search = Callable[..., discovery.PageResult]


def room_search_spec(site: SiteConfig) -> dict[str, Any] | None:
    """The site's room search block: ``live.search`` in its YAML, else its live adapter's ``room_search``."""
    spec = (site.get("live") or {}).get("search")
    if spec:
        return dict(spec)
    from crawler.spiders import ADAPTERS
    target = ADAPTERS.get(site.get("adapter") or site.name)
    if target is None:
        return None
    import importlib
    module, attr = target.split(":")
    adapter = getattr(importlib.import_module(module), attr)
    return dict(adapter.room_search) if getattr(adapter, "room_search", None) else None


def searchable(site: SiteConfig) -> SiteConfig:
    """The site with its room search as its ``discovery:`` block (what :func:`discovery.discover_in_page`
    reads); the adapter's ``home`` is the base URL unless the site's settings say otherwise."""
    spec = room_search_spec(site)
    if spec is None:
        from crawler.errors import SiteConfigError
        raise SiteConfigError(f"site {site.name!r} has no room search (live.search, or a live adapter's room_search)")
    raw = dict(site.raw)
    raw["discovery"] = {k: v for k, v in spec.items() if k not in ("home", "live_values")}
    if not raw.get("base_url"):
        raw["base_url"] = spec.get("home")
    return replace(site, raw=raw)


def rooms_in(result: discovery.PageResult, query: str | None, *, live_values: tuple = (True,)) -> list[Found]:
    """Frontier items for the live rooms a search page gave (rooms not live now are skipped)."""
    found = []
    for e in result.entries:
        if "is_live" in e and e["is_live"] not in live_values:   # a search that says: not live now
            continue
        if not e.get("url"):
            continue
        listing = {k: e[k] for k in ROOM_KEYS if e.get(k) not in (None, "")}
        if "view_count" in listing:
            listing["view_count"] = _count(listing["view_count"])
        found.append(Found(media_id=e["id"], url=str(e["url"]), query=query, found_on=result.url, listing=listing))
    return found


def _count(value: Any) -> int | None:
    """Viewer counts as platforms print them: 8812, "8812", "2.4万" (10 000), "1.2k"."""
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().lower().replace(",", "")
    scale = {"万": 10_000, "w": 10_000, "亿": 100_000_000, "k": 1_000, "m": 1_000_000}
    mult = scale.get(text[-1:], 1)
    try:
        return int(float(text[:-1] if mult != 1 else text) * mult)
    except ValueError:
        return None


def search_rooms(site: SiteConfig, queries: list[str], *, limit: int, search: Search | None = None,
                 browser: dict[str, Any] | None = None, profile_dir=None) -> tuple[list[Found], list[outcomes.Answer]]:
    """Live rooms found on ``site`` for ``queries`` (at most ``limit`` per query, once each) and every
    answer that was not ``up`` (a wall, a login, a changed page: reported, never an empty success)."""
    from earwitness.kernel import settings as ew_settings
    cfg = searchable(site)
    spec = room_search_spec(site) or {}
    live_values = tuple(spec.get("live_values") or (True, 1, "1", "true"))
    search = search or discovery.discover_in_page
    browser = browser or discovery.chromium_options(config.section())
    profile_dir = profile_dir or ew_settings.get().path("browser") / site.name
    found: dict[str, Found] = {}
    problems: list[outcomes.Answer] = []
    for query in queries:
        result = search(cfg, query, limit=limit, profile_dir=profile_dir, browser=browser,
                        user_agent=site.option("user_agent"))
        for f in rooms_in(result, query, live_values=live_values):
            found.setdefault(f.media_id, f)
        if result.answer.kind != "up":
            problems.append(result.answer)
    return list(found.values()), problems


def rank_rooms(found: list[Found], *, recent: dict[str, dict], music_categories: list[str], rotate_min: float,
               now: datetime) -> list[Found]:
    """Candidates in watch order. ``recent``: room url -> ``{"last_window_at", "last_hit_at"}`` (datetimes)."""
    music = {c.lower() for c in music_categories}
    since = now - timedelta(minutes=rotate_min)
    day = now - timedelta(hours=24)

    def key(f: Found) -> tuple:
        r = recent.get(f.url) or {}
        hit = bool(r.get("last_hit_at") and r["last_hit_at"] >= day)
        rested = not (r.get("last_window_at") and r["last_window_at"] >= since) or hit
        is_music = str(f.listing.get("category") or "").lower() in music
        viewers = f.listing.get("view_count") or 0
        return (not rested, not hit, not is_music, -math.log1p(max(0, viewers)))

    return sorted(found, key=key)


def recent_activity(store, *, now: datetime) -> dict[str, dict]:
    """Room URL -> when its last window ended and its last hit was on air (the last day's windows)."""
    from crawler.live_store import coverage
    out = {}
    for r in coverage(store, hours=24.0, now=now)["rooms"]:
        out[r["url"]] = {k: datetime.fromisoformat(r[k]) if r[k] else None for k in ("last_window_at", "last_hit_at")}
    return out


def plan_watch(store, *, now: datetime, search: Search | None = None) -> dict[str, Any]:
    """This period's rooms: the watch list first, then rooms found by search on ``live.search.sites``,
    ranked (:func:`rank_rooms`), cut at the budget ``live.watch.max_rooms``. Returns ``watch`` (URLs),
    ``rotating`` (found rooms past the budget, in rank order), ``found`` (frontier items by URL),
    ``queries`` (per site) and ``problems`` (answers that were not ``up``, as text)."""
    from crawler import queries as catalog_queries
    live = config.section()["live"]
    scfg = live["search"]
    budget = int(live["watch"]["max_rooms"])
    fixed = list(dict.fromkeys(live["watch"]["rooms"] or []))
    found: dict[str, Found] = {}
    problems: list[str] = []
    asked: dict[str, list[str]] = {}
    for name in scfg["sites"] or []:
        site = config.load_site(name)
        history_key = f"live-{name}"
        qs = catalog_queries.catalog_queries(store, site=history_key, max_queries=int(scfg["max_queries"]))
        asked[name] = qs
        try:
            rooms, answers = search_rooms(site, qs, limit=int(scfg["per_query"]), search=search)
        except Exception as exc:  # noqa: BLE001  one site's search failing must not stop the others
            problems.append(f"{name}: {exc}")
            continue
        catalog_queries.record_run(history_key, qs)
        problems += [f"{name}: {a.kind} ({a.reason}{': ' + a.detail if a.detail else ''})" for a in answers]
        for f in rooms:
            found.setdefault(f.url, f)
    ranked = [f.url for f in rank_rooms(list(found.values()), recent=recent_activity(store, now=now),
                                        music_categories=list(scfg["music_categories"]),
                                        rotate_min=float(scfg["rotate_min"]), now=now) if f.url not in fixed]
    order = fixed + ranked
    return {"watch": order[:budget], "rotating": order[budget:], "found": found, "queries": asked,
            "problems": problems}
