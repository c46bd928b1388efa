"""The daily canary: is each configured site still reachable, logged in and readable?

:func:`check_site` asks a site one known search and one known item (its ``canary:`` block:
``query``, ``item``), through the same paths a crawl takes (the in-page discovery for sites with
a ``discovery:`` block, yt-dlp's flat extraction of an adapter's search key, the listing page or
API otherwise; the fetch path for the item), and checks that yt-dlp still marks the extractors the
adapter relies on as working. One row per site:

``state``  ``ok`` | ``needs_login`` | ``blocked`` | ``broken`` | ``unreachable`` | ``unchecked``
           (``unchecked``: no canary configured and nothing known to be wrong; never a guess)
``reason`` why, naming the extractor, API path or answer.

Every check is a row of the store's ``site_checks`` table (:class:`crawler.models.SiteCheck`):
:func:`latest` gives each site's newest row, which ``earwitness status``, the review app's Sites
page and the Elasticsearch mirror (family ``site_checks``, through the outbox) all read. The
daemon's ``canary`` job (:func:`canary_job`, daily in config/scheduler.yaml) runs the check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
    check_failed: bool = field(default=False, repr=False)   # the check raised: not the site's answer

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k != "check_failed"}


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


def _adapter_class(site: config.SiteConfig):
    """The spider class of a built-in adapter site (None for a YAML site of its own)."""
    from crawler.spiders import ADAPTERS
    target = ADAPTERS.get(site.get("adapter") or site.name)
    if target is None:
        return None
    import importlib
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def extractor_problems(site: config.SiteConfig) -> list[str]:
    """yt-dlp extractors this site's crawl relies on that yt-dlp itself marks as not working.

    Only what the configured crawl reaches through yt-dlp counts: the item extractor, the site's
    ``start_urls`` and its search; an extractor the crawl does not use (TikTok's tag and sound
    pages when TikTok is searched in its own page) is no reason to call the site broken.
    """
    cls = _adapter_class(site)
    if cls is None:
        return []
    from yt_dlp.extractor import gen_extractor_classes, get_info_extractor
    ies = []
    if getattr(cls, "ie_name", ""):
        ies.append(get_info_extractor(cls.ie_name))
    urls = [str(u) for u in site.get("start_urls") or ()]
    template = getattr(cls, "search_template", None)
    if template:
        urls.append(template.format(n=1, query="canary"))
    for url in filter(None, urls):
        ie = next((ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic" and ie.suitable(url)), None)
        if ie is not None:
            ies.append(ie)
    return sorted({f"yt-dlp marks its {ie.ie_key()} extractor as not working" for ie in ies if not ie.working()})


def _ytdlp_search_answer(site: config.SiteConfig, template: str, query: str) -> tuple[outcomes.Answer, str]:
    """The known search through the adapter's own path (yt-dlp's flat extraction of its search
    key, one entry): the platform's walls and errors as the fetch path classifies them."""
    from crawler.errors import ContentGone, FetchFailed, MediaRejected, Refused
    from crawler.spiders.ytdlp import flat_extract
    url = template.format(n=1, query=query)
    try:
        info = flat_extract(url, site, limit=1)
    except Refused as exc:
        return outcomes.Answer(exc.kind, exc.reason, exc.http_status, exc.detail), url
    except (ContentGone, MediaRejected) as exc:   # a search is never "removed": it changed
        return outcomes.Answer("broken", exc.reason, getattr(exc, "http_status", None), str(exc)), url
    except FetchFailed as exc:
        return outcomes.Answer(exc.kind, exc.reason, exc.http_status, str(exc)), url
    if not list(info.get("entries") or []):
        return outcomes.Answer("broken", "no_results", None, f"the known search {query!r} found nothing"), url
    return outcomes.Answer("up", "results"), url


def _search_answer(site: config.SiteConfig, query: str) -> tuple[outcomes.Answer, str]:
    if site.get("kind") == "browser" or site.get("discovery"):   # the page's own search (douyin, tiktok, kuaishou)
        from crawler import discovery
        result = discovery.discover_in_page(
            site, query, limit=1, profile_dir=ew_settings.get().path("browser") / site.name,
            browser=discovery.chromium_options(config.section()), user_agent=site.option("user_agent"))
        if result.answer.kind == "up" and not result.entries:
            return outcomes.Answer("broken", "no_results", None, f"the known search {query!r} found nothing"), \
                result.url
        return result.answer, result.url
    cls = _adapter_class(site)
    if getattr(cls, "search_template", None):
        return _ytdlp_search_answer(site, cls.search_template, query)
    template = site.get("api_url") or site.get("search_url")
    if not template:
        return outcomes.Answer("broken", "no_search", None,
                               f"site {site.name!r} has no search to check (canary.query set, but no search "
                               f"configured: use canary.item only)"), ""
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
    unanswered = False
    if "query" in canary:
        answer, url = _search_answer(site, str(canary["query"]))
        rows.append((_state_of(answer), f"search {url}: {answer.kind} ({answer.reason})"
                     + (f": {answer.detail}" if answer.detail else "")))
        unanswered = answer.kind == "transient" and answer.http_status is None
    if canary.get("item") and unanswered:    # the same host: yt-dlp's retries would only add half a minute
        rows.append(("unreachable", f"item {site.url(str(canary['item']))}: not probed, the search did not answer"))
    elif canary.get("item"):
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


def record(store, checks: list[SiteCheck]) -> None:
    """Keep each check as a row (history stays; :func:`latest` reads the newest per site)."""
    from crawler.models import SiteCheck as SiteCheckRow
    with store.session() as s:
        s.add_all(SiteCheckRow(site=c.site, state=c.state, reason=c.reason,
                               checked_at=datetime.fromisoformat(c.checked_at)) for c in checks)


def latest(session) -> dict[str, dict[str, Any]]:
    """Each site's newest check (``site``, ``state``, ``reason``, ``checked_at`` ISO), by site name;
    ``since``: when the site went into this state (its first check in the current run of that state,
    as far as the kept rows tell). Indexed queries (two grouped, one per site) rather than a walk
    through the whole history: the menu of every app page asks."""
    from sqlalchemy import and_, func, select
    from crawler.models import SiteCheck as Row
    newest_at = select(Row.site, func.max(Row.checked_at).label("at")).group_by(Row.site).subquery()
    newest: dict[str, Any] = {}
    for row in session.scalars(select(Row).join(newest_at, and_(Row.site == newest_at.c.site,
                                                                 Row.checked_at == newest_at.c.at))
                               .order_by(Row.id)):
        newest[row.site] = row                     # two checks in the same second: the later id wins
    if not newest:
        return {}
    current = select(Row.site, Row.state).where(Row.id.in_([r.id for r in newest.values()])).subquery()
    other_at = dict(session.execute(
        select(Row.site, func.max(Row.checked_at)).join(current, Row.site == current.c.site)
        .where(Row.state != current.c.state).group_by(Row.site)).all())
    first_at = {}
    for site, row in newest.items():
        cond = [Row.site == site, Row.state == row.state]
        if site in other_at:
            cond.append(Row.checked_at > other_at[site])
        first_at[site] = session.scalar(select(func.min(Row.checked_at)).where(*cond))
    return {site: {"site": site, "state": row.state, "reason": row.reason,
                   "checked_at": row.checked_at.isoformat(timespec="seconds"),
                   "since": (first_at[site] or row.checked_at).isoformat(timespec="seconds")}
            for site, row in sorted(newest.items())}


def with_pauses(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``rows`` (from :func:`latest`) with each site's crawl pause (``paused``: until, reason) where
    one is on now; a paused site with no check yet gets a row of its own. Sorted by site."""
    from crawler import pauses
    out = {site: dict(row) for site, row in rows.items()}
    for site in pauses.load():
        pause = pauses.paused(site)
        if pause is not None:
            out.setdefault(site, {"site": site, "state": "unchecked", "reason": "no canary check yet",
                                  "checked_at": None, "since": None})["paused"] = pause
    return dict(sorted(out.items()))


def needs_attention(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows an operator must act on (a state other than ``ok``/``unchecked``, or crawls
    paused), worst first."""
    bad = [r for r in rows.values() if r["state"] not in ("ok", "unchecked") or r.get("paused")]
    return sorted(bad, key=lambda r: (_WORST_FIRST.index(r["state"]), r["site"]))


def check_sites(store, names: list[str] | None = None) -> list[SiteCheck]:
    """Check ``names`` (default: every configured site) and keep the rows in ``store``; a paused
    site's row says so (crawler/pauses.py). A check that itself fails (a bug, no Chromium) is
    kept as that site's ``broken`` row naming the failure (marked ``check_failed``), and the other
    sites are still checked."""
    import logging
    from crawler import pauses
    checks = []
    for name in names or configured_sites():
        try:
            checks.append(check_site(name))
        except Exception as exc:  # noqa: BLE001 - one site's failed check must not hide the others
            logging.getLogger(__name__).exception("canary check of %s failed", name)
            checks.append(SiteCheck(name, "broken", f"the canary check itself failed: {type(exc).__name__}: {exc}",
                                    datetime.now(timezone.utc).isoformat(timespec="seconds"), check_failed=True))
    for c in checks:
        pause = pauses.paused(c.site)
        if pause is not None:
            c.reason += f"; crawls paused until {pause['until']} ({pause['reason']})"
    record(store, checks)
    return checks


def canary_job(store, sites: list[str] | None = None) -> dict[str, Any]:
    """The daemon's daily job: check every configured site (or ``sites``) and keep the rows.

    The job is ok when every check ran; each site's state is the finding, reported in the result
    (``states``, ``attention``) and shown by ``status``, the app and the mirror. A site that is not
    ok does not make the job fail (the site's own row is red); a check that itself failed does.
    """
    checks = check_sites(store, list(sites) if sites else None)
    bad = needs_attention({c.site: c.as_dict() for c in checks})
    failed = [f"{c.site}: {c.reason}" for c in checks if c.check_failed]
    return {"ok": not failed, "errors": failed, "checked": len(checks),
            "states": {state: sum(c.state == state for c in checks) for state in STATES
                       if any(c.state == state for c in checks)},
            "attention": [f"{r['site']}: {r['state']}" for r in bad]}
