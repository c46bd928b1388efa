"""Downloader middlewares and download-layer helpers.

``BackoffRetryMiddleware`` replaces Scrapy's RetryMiddleware: same settings
(``RETRY_ENABLED``, ``RETRY_TIMES``, ``RETRY_HTTP_CODES``) plus
``EARWITNESS_RETRY_BACKOFF_BASE`` / ``EARWITNESS_RETRY_MAX_BACKOFF``; it waits
before retrying (exponential backoff, or the server's ``Retry-After``) instead of
retrying at once. ``ProxyMiddleware`` reads ``EARWITNESS_PROXY`` and switches
itself off without one. ``load_all_results`` is a Playwright page method a site
turns on by configuration (``listing.load_more`` / ``listing.done``).
"""

from __future__ import annotations

import logging

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.media import retry_after_s

log = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 429/5xx after a pause: ``Retry-After`` when the server gives one, else backoff."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("EARWITNESS_RETRY_BACKOFF_BASE", 0.5)
        self.cap = settings.getfloat("EARWITNESS_RETRY_MAX_BACKOFF", 60.0)

    def process_exception(self, request: Request, exception: Exception, spider=None):
        """Retried as Scrapy does, except an item page cut at the item time limit: its time is up
        (failed now, an attempt counted, tried again by a later crawl)."""
        from scrapy.exceptions import DownloadTimeoutError
        if request.meta.get("item_time_limit") and isinstance(exception, DownloadTimeoutError):
            return None
        return super().process_exception(request, exception)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retries = request.meta.get("retry_times", 0)
        wanted = retry_after_s(response.headers, -1.0)
        if wanted > self.cap:   # "come back in an hour": a pause for the site, not a retry now
            log.info("%s answered %s with Retry-After %.0fs (> %.0fs): not retried", request.url,
                     response.status, wanted, self.cap)
            self.crawler.stats.inc_value("earwitness/retry_after_too_long")
            return response
        delay = min(self.cap, wanted if wanted >= 0 else self.base * 2 ** retries)
        new = self._retry(request, f"HTTP {response.status}")
        if new is None:
            return response
        self.crawler.stats.inc_value(f"earwitness/retry/http_{response.status}")
        if delay > 0:
            log.info("%s answered %s; retrying in %.1fs", request.url, response.status, delay)
            from twisted.internet import reactor
            from twisted.internet.task import deferLater
            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return new


class ProxyMiddleware:
    """Route every request through the configured proxy (``EARWITNESS_PROXY``)."""

    def __init__(self, proxy: str) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler):
        proxy = crawler.settings.get("EARWITNESS_PROXY")
        if not proxy:
            raise NotConfigured
        return cls(proxy)

    def process_request(self, request: Request) -> None:
        request.meta.setdefault("proxy", self.proxy)


def abort_media_request(request) -> bool:
    """Playwright request filter: the browser renders pages but never streams audio/video."""
    return request.resource_type == "media"


async def load_all_results(page, *, load_more: str | None, done: str | None, items: str | None = None,
                           timeout_ms: int = 15000, max_clicks: int = 50) -> dict:
    """Click a "more" button until it is gone; returns ``{"clicks": n, "complete": bool}``.

    ``done`` is a CSS selector present whenever the page has settled (not
    loading); ``load_more`` the button that loads the next page, hidden or
    absent when there is none; ``items`` the result elements (each click must
    add some). A page with neither button
    nor done marker is left as it is: the spider then sees what rendered, and
    reports a layout change if the results container is missing.
    """
    settled = """([done, more]) => done ? !!document.querySelector(done) :
        (!!document.querySelector(more) && !document.querySelector(more).disabled)"""
    grown = """([items, n]) => document.querySelectorAll(items).length > n"""
    clicks = 0
    while True:
        try:
            await page.wait_for_function(settled, arg=[done, load_more], timeout=timeout_ms)
        except Exception:  # playwright TimeoutError: leave the page as rendered
            log.warning("%s: results not settled after %d ms", page.url, timeout_ms)
            return {"clicks": clicks, "complete": False}
        button = await page.query_selector(load_more) if load_more else None
        if button is None or not await button.is_visible():
            return {"clicks": clicks, "complete": True}
        if clicks >= max_clicks:
            return {"clicks": clicks, "complete": False}
        before = len(await page.query_selector_all(items)) if items else 0
        await button.click()
        clicks += 1
        if items:
            try:
                await page.wait_for_function(grown, arg=[items, before], timeout=timeout_ms)
            except Exception:
                log.warning("%s: a click on %s added nothing", page.url, load_more)
                return {"clicks": clicks, "complete": False}
