"""A site discovered inside its own page (``kind: browser``): the page's scripts call their signed
API, :mod:`crawler.discovery` reads the answers; item pages are read as a configurable site's
(``video:`` selectors, a list of alternatives where the layout varies)."""

from __future__ import annotations

from typing import Any, AsyncIterator

from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler import config, discovery
from crawler.frontier import Found
from crawler.spiders.configurable import ConfigurableSiteSpider
from earwitness.kernel import settings as ew_settings

LISTING_KEYS = ("title", "uploader", "uploader_id", "published_at", "duration_s", "view_count")


class PageDiscoveryMixin:
    """Discovery through the platform's own page (the site's ``discovery:`` block), one page per
    query; entries go to the frontier, an answer that is not ``up`` is a lost listing of its kind."""

    def page_search(self, query: str) -> discovery.PageResult:
        """One query through the platform's own page (in a worker thread: sync Playwright)."""
        return discovery.discover_in_page(
            self.site_cfg, query, limit=self.limit,
            profile_dir=ew_settings.get().path("browser") / self.site_name,
            browser=discovery.chromium_options(config.section()), user_agent=self.site_cfg.option("user_agent"))

    async def discover_in_pages(self) -> AsyncIterator[Request]:
        for query in self.queries:
            self.listing_started()
            result = await maybe_deferred_to_future(deferToThread(self.page_search, query))
            self.stats_counter["api_responses"] += result.api_responses
            for req in self.follow_items(self.found_in(result, query)):
                yield req
            if result.answer.kind != "up":
                a = result.answer
                self.listing_lost(result.url, f"{a.reason}{': ' + a.detail if a.detail else ''}", a.kind)

    def found_in(self, result: discovery.PageResult, query: str) -> list[Found]:
        """Frontier items from a page's entries (live entries skipped: rooms are sampled, not fetched)."""
        found = []
        for e in result.entries:
            if e.get("is_live"):
                self.stats_counter["skipped_live"] += 1
                continue
            if e.get("url"):
                listing = {k: e[k] for k in LISTING_KEYS if e.get(k) not in (None, "")}
                found.append(Found(e["id"], str(e["url"]), query, result.url, listing))
        return found


class BrowserSpider(PageDiscoveryMixin, ConfigurableSiteSpider):
    name = "browser"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        discovery.PageDiscovery.of(self.site_cfg)   # a bad discovery block fails before the crawl

    async def discover(self) -> AsyncIterator[Request]:
        if not self.queries:
            self.note_error(self.site_name, "nothing to crawl: no queries")
        async for req in self.discover_in_pages():
            yield req

    def discovery_requests(self):   # discovery is the page's, not Scrapy's
        return []
