"""Sites that answer with walls are paused, with backoff, instead of being asked again and again.

After a crawl, :func:`after_crawl` looks at what the site answered: walls (``blocked``,
``needs_login``: bot checks, captchas, sign-in walls, rate limits) on its listings or items and
nothing fetched means the site is paused for ``crawler.pause.first_min`` minutes, doubling with
each further walled crawl up to ``crawler.pause.max_hours`` (a ``Retry-After`` the site gave that
is longer wins); a crawl that fetched something ends the pause. :func:`paused` is checked before a
crawl starts. The state is ``<home>/crawler/pauses.json`` (site -> until, reason, strikes), shown
by ``earwitness sites check`` and readable by ``earwitness status``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from crawler import config
from earwitness.kernel import settings as ew_settings

WALL_COUNTS = ("blocked", "needs_login", "listing_blocked", "listing_needs_login")


def _path():
    return ew_settings.get().path("crawler") / "pauses.json"


def load() -> dict[str, dict[str, Any]]:
    path = _path()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def _save(rows: dict[str, dict[str, Any]]) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def paused(site: str, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The site's pause if it is still on (``until``, ``reason``, ``strikes``), else None."""
    row = load().get(site)
    now = now or datetime.now(timezone.utc)
    if row and datetime.fromisoformat(row["until"]) > now:
        return row
    return None


def after_crawl(site: str, counts: dict[str, int], *, retry_after_s: float | None = None,
                now: datetime | None = None) -> dict[str, Any] | None:
    """Update the site's pause from one crawl's counts; returns the pause now on, if any."""
    now = now or datetime.now(timezone.utc)
    rows = load()
    walls = {k: counts.get(k, 0) for k in WALL_COUNTS if counts.get(k, 0)}
    if counts.get("fetched", 0) or not walls:
        if rows.pop(site, None) is not None:
            _save(rows)
        return None
    cfg = config.section()["pause"]
    strikes = int(rows.get(site, {}).get("strikes", 0)) + 1
    wait = timedelta(minutes=float(cfg["first_min"]) * 2 ** (strikes - 1))
    wait = min(wait, timedelta(hours=float(cfg["max_hours"])))
    if retry_after_s and timedelta(seconds=retry_after_s) > wait:
        wait = timedelta(seconds=retry_after_s)
    kind = "needs_login" if any("needs_login" in k for k in walls) else "blocked"
    row = {"until": (now + wait).isoformat(timespec="seconds"), "strikes": strikes, "state": kind,
           "reason": ", ".join(f"{k} {v}" for k, v in walls.items()) + " and nothing fetched"}
    rows[site] = row
    _save(rows)
    return row


def clear(site: str) -> None:
    rows = load()
    if rows.pop(site, None) is not None:
        _save(rows)
