"""The daily canary: is each configured site still reachable, logged in and readable?

:func:`check_site` asks a site one known search and one known item (its ``canary:`` block:
``query``, ``item``), through the same paths a crawl takes (the page discovery for
``kind: browser`` sites, the listing page otherwise, the fetch path for the item), and checks
that yt-dlp still marks the extractors the adapter relies on as working. One row per site:

``state``  ``ok`` | ``needs_login`` | ``blocked`` | ``broken`` | ``unreachable`` | ``unchecked``
           (``unchecked``: no canary configured and nothing known to be wrong; never a guess)
``reason`` why, naming the extractor, API path or answer.

The rows are kept in ``<home>/crawler/sites.json`` (the latest per site) for ``earwitness
status``, the review app and the Elasticsearch mirror.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from crawler import config, outcomes
from crawler.errors import CrawlerError
from earwitness.kernel import settings as ew_settings

STATES = ("ok", "needs_login", "blocked", "broken", "unreachable", "unchecked")
_WORST_FIRST = ("needs_login", "blocked", "unreachable", "broken", "unchecked", "ok")


@dataclass
class SiteCheck:
    site: str
    state: str
    reason: str
    checked_at: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _state_of(answer: outcomes.Answer) -> str:
    """A canary answer as a site state: walls as they are, no answer at all as unreachable."""
    if answer.kind in ("up",):
        return "ok"
    if answer.kind in outcomes.WALLS:
        return answer.kind
    if answer.kind == "transient":
        return "unreachable"
    return "broken"   # gone / private / geo / offline for the *known* item, or a changed page/API


def configured_sites() -> list[str]:
    """Every site there is: the YAML sites and the built-in adapters."""
    from crawler.spiders import ADAPTERS
    return sorted(set(config.site_files()) | set(ADAPTERS))


def extractor_problems(site: config.SiteConfig) -> list[str]:
    """yt-dlp extractors this site's adapter relies on that yt-dlp itself marks as not working."""
    from crawler.spiders import ADAPTERS
    target = ADAPTERS.get(site.get("adapter") or site.name)
    if target is None:
        return []
    import importlib
    module, attr = target.split(":")
    cls = getattr(importlib.import_module(module), attr)
    from yt_dlp.extractor import gen_extractor_classes, get_info_extractor
    ies = []
    if getattr(cls, "ie_name", ""):
        ies.append(get_info_extractor(cls.ie_name))
    urls = list(getattr(cls, "listing_examples", ()))
    template = getattr(cls, "search_template", None)
    if template:
        urls.append(template.format(n=1, query="canary"))
    for url in filter(None, urls):
        ie = next((ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic" and ie.suitable(url)), None)
        if ie is not None:
            ies.append(ie)
    return sorted({f"yt-dlp marks its {ie.ie_key()} extractor as not working" for ie in ies if not ie.working()})


def _search_answer(site: config.SiteConfig, query: str) -> tuple[outcomes.Answer, str]:
    if site.get("kind") == "browser":
        from crawler import discovery
        result = discovery.discover_in_page(
            site, query, limit=1, profile_dir=ew_settings.get().path("browser") / site.name,
            browser=discovery.chromium_options(config.section()), user_agent=site.option("user_agent"))
        if result.answer.kind == "up" and not result.entries:
            return outcomes.Answer("broken", "no_results", None, f"the known search {query!r} found nothing"), \
                result.url
        return result.answer, result.url
    template = site.get("api_url") or site.get("search_url")
    if not template:
        return outcomes.Answer("up", "no_search"), ""
    from crawler import recheck
    url = site.url(template, query=query, page="1")
    page = recheck.keep_page(url, site, store=False)
    if page is None:
        return outcomes.Answer("transient", "no_answer", None, f"{url} did not answer"), url
    return outcomes.from_page(page.status, page.body), url


def check_site(name: str) -> SiteCheck:
    """Probe one site now (no network at all for a site without a canary block)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        site = config.load_site(name)
    except CrawlerError as exc:
        return SiteCheck(name, "broken", str(exc), now)
    problems = extractor_problems(site)
    canary = site.get("canary") or {}
    rows: list[tuple[str, str]] = [("broken", p) for p in problems]
    if "query" in canary:
        answer, url = _search_answer(site, str(canary["query"]))
        rows.append((_state_of(answer), f"search {url}: {answer.kind} ({answer.reason})"
                     + (f": {answer.detail}" if answer.detail else "")))
    if canary.get("item"):
        from crawler.recheck import probe
        url = site.url(str(canary["item"]))
        r = probe(url, site.platform, keep_evidence=False)
        kind = r.outcome
        if kind == "transient" and r.http_status is None:
            state = "unreachable"
        else:
            state = _state_of(outcomes.Answer(kind, r.reason))
        rows.append((state, f"item {url}: {kind} ({r.reason})"))
    if not rows:
        return SiteCheck(name, "unchecked", f"no canary configured (canary.query / canary.item for site {name!r})",
                         now)
    worst = min(rows, key=lambda row: _WORST_FIRST.index(row[0]))
    state = worst[0]
    reason = "; ".join(r for s, r in rows if s == state) if state != "ok" else "; ".join(r for _, r in rows)
    return SiteCheck(name, state, reason, now)


def state_file():
    return ew_settings.get().path("crawler") / "sites.json"


def record(checks: list[SiteCheck]) -> None:
    """Keep the latest row per site (written whole, atomically)."""
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = last_checks()
    rows.update({c.site: c.as_dict() for c in checks})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def last_checks() -> dict[str, dict[str, Any]]:
    path = state_file()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def check_sites(names: list[str] | None = None) -> list[SiteCheck]:
    """Check ``names`` (default: every configured site) and keep the rows; a paused site's row
    says so (crawler/pauses.py)."""
    from crawler import pauses
    checks = [check_site(n) for n in (names or configured_sites())]
    for c in checks:
        pause = pauses.paused(c.site)
        if pause is not None:
            c.reason += f"; crawls paused until {pause['until']} ({pause['reason']})"
    record(checks)
    return checks
