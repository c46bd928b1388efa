"""Politeness that is one thing: one per-domain request limiter for the Scrapy, yt-dlp and browser paths.

A crawl's process has one :data:`LIMITER`. Before a request to a domain, each path reserves the
domain's next slot (``requests_per_second`` of the site, else ``crawler.requests_per_second``)
and waits for it: Scrapy's requests in :class:`PoliteMiddleware`, every request yt-dlp makes
(extraction and download, :func:`youtube_dl_class`), the page discovery's document and API calls
(:func:`route_politely`). A ``Retry-After`` seen on any path holds the whole domain for that long
(:meth:`DomainLimiter.hold`), so a rate limit met by yt-dlp also slows Scrapy and the browser.
One process only: crawls of one site in several processes each keep their own pace.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from crawler import config


class DomainLimiter:
    """Next free slot per domain, reserved under a lock (threads of the fetch pool share it)."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, domain: str, interval_s: float) -> float:
        """Reserve the domain's next slot; seconds to wait until it."""
        now = time.monotonic()
        with self._lock:
            slot = max(now, self._next.get(domain, now))
            self._next[domain] = slot + max(0.0, interval_s)
        return slot - now

    def hold(self, domain: str, seconds: float) -> None:
        """No request to ``domain`` before ``seconds`` from now (a Retry-After)."""
        until = time.monotonic() + max(0.0, seconds)
        with self._lock:
            self._next[domain] = max(self._next.get(domain, 0.0), until)


LIMITER = DomainLimiter()


def domain(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def interval_s(site: config.SiteConfig | None) -> float:
    """Seconds between two requests to one domain for ``site`` (0: no limit)."""
    rate = site.option("requests_per_second") if site is not None else \
        config.section()["requests_per_second"]
    rate = float(rate or 0)
    return 1.0 / rate if rate > 0 else 0.0


def wait(url: str, site: config.SiteConfig | None) -> float:
    """Block until ``url``'s domain may be asked again; the seconds waited."""
    delay = LIMITER.reserve(domain(url), interval_s(site))
    if delay > 0:
        time.sleep(delay)
    return delay


def hold(url: str, seconds: float) -> None:
    """Hold ``url``'s domain for a Retry-After, at most ``retry.max_backoff_s``: a longer wait
    is not sat out in the crawl (the item ends ``blocked`` and the site is paused instead)."""
    cap = float(config.section()["retry"]["max_backoff_s"])
    LIMITER.hold(domain(url), min(seconds, cap))


def reset() -> None:
    """Forget every domain's slot and hold (a new crawl process starts with none; tests)."""
    global LIMITER
    LIMITER = DomainLimiter()


def youtube_dl_class(site: config.SiteConfig | None):
    """A YoutubeDL class whose every request (extraction and download) waits for the domain's slot."""
    import yt_dlp

    class PoliteYoutubeDL(yt_dlp.YoutubeDL):
        def urlopen(self, req):
            url = req if isinstance(req, str) else getattr(req, "url", None) or req.get_full_url()
            wait(url, site)
            return super().urlopen(req)

    return PoliteYoutubeDL


def route_politely(page, site: config.SiteConfig | None) -> None:
    """Page discovery: documents and API calls wait for their domain's slot (images, scripts and
    styles do not: a person's browser loads them at once too)."""
    def handle(route):
        if route.request.resource_type in ("document", "xhr", "fetch"):
            wait(route.request.url, site)
        route.continue_()
    page.route("**/*", handle)


class PoliteMiddleware:
    """Scrapy downloader middleware: each request waits for its domain's slot (without blocking
    the reactor); a response's Retry-After holds the domain for every path."""

    def __init__(self, site_name: str) -> None:
        self.site = config.load_site(site_name)

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured
        name = crawler.settings.get("EARWITNESS_SITE")
        if not name:
            raise NotConfigured
        return cls(name)

    async def process_request(self, request, spider=None):
        delay = LIMITER.reserve(domain(request.url), interval_s(self.site))
        if delay > 0:
            from scrapy.utils.defer import maybe_deferred_to_future
            from twisted.internet import reactor
            from twisted.internet.task import deferLater
            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return None

    def process_response(self, request, response, spider=None):
        from crawler.media import retry_after_s
        wanted = retry_after_s(response.headers, -1.0) if response.status in (429, 503) else -1.0
        if wanted > 0:
            hold(request.url, wanted)
        return response
