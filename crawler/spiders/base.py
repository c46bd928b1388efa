"""The shared base: frontier, de-duplication, limits, evidence requests and the crawl report.

A platform spider implements :meth:`BaseSpider.discovery_requests` (listing pages,
or yt-dlp flat extraction) and :meth:`BaseSpider.parse_item` (an item page into
a :class:`crawler.items.VideoItem`); it never fetches media or talks to the store.
HTTP, throttling and retries are Scrapy's and :mod:`crawler.middlewares`'.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, AsyncIterator, Iterable, Iterator

import scrapy
import scrapy.exceptions
import scrapy.signals
from scrapy.http import Request, Response
from scrapy_playwright.page import PageMethod

from crawler import config, frontier, outcomes
from crawler.errors import LayoutChanged
from crawler.frontier import Found
from crawler.ingest import ClipSink
from crawler.items import VideoItem
from crawler.page_capture import NetworkRecorder, PageCapture, capture_async
from earwitness.kernel import settings as ew_settings
from earwitness.kernel.store import open_store

log = logging.getLogger(__name__)

# the answers that say the item is gone, with their reasons: the taxonomy's, not a copy of it
GONE_HTTP = {status: reason for status, (kind, reason) in outcomes.STATUS_KINDS.items() if kind == "gone"}


class BaseSpider(scrapy.Spider):
    """Crawl one site: discover items, skip what the frontier has, request item pages."""

    name = "base"
    platform = ""

    def __init__(self, site: str | config.SiteConfig, queries: Iterable[str] | None = None,
                 limit: int | None = None, on_clip_stored: ClipSink | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.site_cfg = site if isinstance(site, config.SiteConfig) else config.load_site(site)
        self.site_name = self.site_cfg.name
        self.platform = self.site_cfg.platform or self.platform
        self.queries = list(queries or [])
        sec = config.section()
        self.limit = int(limit) if limit is not None else int(sec["default_limit"])
        self.max_attempts = int(sec["max_attempts"])
        self.claim_batch = 2 * int(sec["media"]["fetch_workers"])
        self.on_clip_stored = on_clip_stored
        ev = sec["evidence"]
        self.want_screenshot = bool(self.site_cfg.get("screenshot", ev.get("screenshot", True)))
        self.store = open_store()
        self.scheduled: set[str] = set()
        self.stats_counter: Counter = Counter()
        self.errors: list[str] = []
        self.work_ids: Counter = Counter()
        self.timings: Counter = Counter()
        self.started = time.monotonic()

    # -- start ---------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        """Leftovers of earlier crawls first (resume: clips stored but never matched, then items
        found but not fetched), then this crawl's discovery."""
        if self.on_clip_stored is not None:
            from scrapy.utils.defer import maybe_deferred_to_future
            from twisted.internet.threads import deferToThread
            await maybe_deferred_to_future(deferToThread(self.match_leftovers))
        for req in self._item_requests(frontier.pending(self.store, self.site_name, max_attempts=self.max_attempts,
                                                        limit=self._claim_size())):
            yield req
        async for req in self.discover():
            yield req

    def match_leftovers(self) -> None:
        """Hand the matcher every clip of this site a killed crawl stored and never matched
        (a clip and its frontier row are written together; matching comes after)."""
        from sqlalchemy import select

        from crawler.models import FrontierEntry
        from earwitness.kernel.store.models import Clip
        with self.store.session() as s:
            ids = list(s.scalars(select(Clip.id).join(FrontierEntry, FrontierEntry.clip_id == Clip.id)
                                 .where(FrontierEntry.site == self.site_name, Clip.status == "fetched")
                                 .order_by(Clip.captured_at)))
        for clip_id in ids:
            try:
                found = self.on_clip_stored(self.store, clip_id)
            except Exception as exc:  # noqa: BLE001  the clip stays for the match backlog
                log.exception("matching leftover clip %s failed", clip_id)
                self.note_error(clip_id, f"match failed: {exc}")
                continue
            self.stats_counter["matched_leftovers"] += 1
            self.stats_counter["detections"] += len(found)
            for w in sorted({w for w, _ in found}):
                self.work_ids[w] += 1

    async def discover(self) -> AsyncIterator[Request]:
        """This crawl's discovery; by default the plain requests of :meth:`discovery_requests`."""
        for req in self.discovery_requests():
            yield req

    def discovery_requests(self) -> Iterable[Request]:
        raise NotImplementedError

    # -- items ---------------------------------------------------------------------------------
    def follow_items(self, found: list[Found]) -> Iterator[Request]:
        """Record what a listing showed (before fetching any of it), then request the new items."""
        self.stats_counter["listed"] += len(found)
        todo = frontier.record(self.store, self.site_name, self.platform, found,
                               max_attempts=self.max_attempts, limit=self._claim_size())
        yield from self._item_requests(todo)

    # -- claims: several crawl workers share a site's frontier -----------------------------------
    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.claim_more, signal=scrapy.signals.spider_idle)
        return spider

    def _claim_size(self) -> int:
        """Items claimed at a time: twice the fetch threads, within the crawl's limit (other workers take the rest)."""
        return max(0, min(self.claim_batch, self.limit - len(self.scheduled)))

    def claim_more(self) -> None:
        """When idle, claim the next batch of unfinished items of the site; the crawl ends when none is left."""
        todo = frontier.pending(self.store, self.site_name, max_attempts=self.max_attempts,
                                limit=self._claim_size(), exclude=self.scheduled)
        requests = list(self._item_requests(todo))
        for req in requests:
            self.crawler.engine.crawl(req)
        if requests:
            raise scrapy.exceptions.DontCloseSpider

    def _item_requests(self, found: Iterable[Found]) -> Iterator[Request]:
        for f in found:
            if f.media_id in self.scheduled:
                continue
            if len(self.scheduled) >= self.limit:
                self.stats_counter["over_limit"] += 1
                frontier.release(self.store, self.platform, f.media_id)  # claimed, not ours to fetch now
                continue
            self.scheduled.add(f.media_id)
            yield self.item_request(f)

    def item_request(self, found: Found) -> Request:
        """The request for an item page; rendered when evidence is on, with its page capture (the stamped
        screenshot and the network's WARC, or the wall it refused: :mod:`crawler.page_capture`)."""
        render = self.render_item_pages()
        media_cfg = config.section()["media"]
        # the item's page is bounded like its media: a page that trickles or never ends (a 24/7
        # stream served as the item) is cut at the item time limit and not retried in this crawl
        meta: dict[str, Any] = {"found": found, "handle_httpstatus_list": list(GONE_HTTP),
                                "download_timeout": float(media_cfg["item_time_limit_s"]),
                                "download_maxsize": int(float(media_cfg["max_filesize_mb"]) * 1024 * 1024),
                                "item_time_limit": True}
        if render:
            meta["playwright"] = True
            if self.want_screenshot:
                recorder = NetworkRecorder()
                meta["playwright_page_event_handlers"] = {"response": recorder.on_response}
                meta["playwright_page_methods"] = [PageMethod(capture_async, recorder=recorder,
                                                              zone=ew_settings.get().local_zone.key)]
        return Request(found.url, callback=self._parse_item, errback=self._item_failed, meta=meta,
                       dont_filter=False)

    def render_item_pages(self) -> bool:
        """Whether item pages go through the browser (needed for the screenshot)."""
        return self.want_screenshot

    def layout_changed(self, exc: Exception, media_id: str | None = None) -> None:
        """Record a layout change (site + selector in the message) without stopping the crawl."""
        log.error("%s", exc)
        self.stats_counter["layout_changed"] += 1
        if media_id is not None:
            frontier.mark(self.store, self.platform, media_id, "failed", reason=str(exc)[:1000])
        self.errors.append(str(exc))

    def _parse_item(self, response: Response):
        found: Found = response.meta["found"]
        wall = outcomes.from_page(response.status, response.body)
        if wall.is_wall:   # a bot check or sign-in page served in place of the item: nothing learnt
            self.item_refused(found, wall, response.url)
            return
        if response.status in GONE_HTTP:
            yield VideoItem(site=self.site_name, platform=self.platform, url=found.url, media_id=found.media_id,
                            query=found.query, found_on=found.found_on, http_status=response.status,
                            gone_reason=GONE_HTTP[response.status])
            return
        try:
            item = self.parse_item(response, found)
        except LayoutChanged as exc:
            self.layout_changed(exc, found.media_id)
            return
        item.http_status = response.status
        item.query, item.found_on = found.query, found.found_on
        if self.site_cfg.get("evidence_html", True):
            item.html = response.body
        for pm in response.meta.get("playwright_page_methods") or ():
            if isinstance(pm, PageMethod) and pm.method is capture_async:
                self._take_capture(item, pm.result)
        yield item

    def _take_capture(self, item: VideoItem, capture: PageCapture | Any) -> None:
        """The capture's picture and WARC onto the item; a refused wall or a failed picture recorded instead."""
        if not isinstance(capture, PageCapture):
            item.extra["screenshot_error"] = f"the page capture failed: {capture!r}"[:300]
            self.stats_counter["no_screenshot"] += 1
            return
        item.extra["page_capture"] = {"url": capture.url, "captured_at": capture.captured_at.isoformat(),
                                      "exchanges": capture.exchanges}
        if capture.refused is not None:
            item.extra["page_capture"]["refused"] = capture.refused
            self.stats_counter[f"capture_refused_{capture.refused['reason']}"] += 1
            return
        item.screenshot, item.warc = capture.screenshot, capture.warc
        if capture.screenshot is None:
            item.extra["screenshot_error"] = capture.error or "Chromium could not capture the page"
            self.stats_counter["no_screenshot"] += 1

    def _item_failed(self, failure) -> None:
        request = failure.request
        found: Found = request.meta["found"]
        response = getattr(failure.value, "response", None)
        status = getattr(response, "status", None)
        answer = outcomes.from_page(status, response.body if response is not None else b"") if status \
            else None
        if answer is not None and answer.is_wall:
            self.item_refused(found, answer, request.url)
            return
        kind = answer.kind if answer is not None else "transient"
        reason = f"{kind}: HTTP {status}" if status else f"{kind}: {failure.getErrorMessage()}"
        from scrapy.exceptions import DownloadTimeoutError
        if failure.check(DownloadTimeoutError) and request.meta.get("item_time_limit"):
            reason = (f"transient: the item time limit ({request.meta['download_timeout']:g} s) passed "
                      f"during the item page's download")
        self.item_failed_attempt(found, reason, status)
        self.stats_counter[kind] += 1
        self.note_error(request.url, reason)

    def item_failed_attempt(self, found: Found, reason: str, status: int | None) -> None:
        """An item's page failed: ``failed`` with one more attempt counted (so a page answering
        500 or 429 forever is given up after ``max_attempts``, not retried by every crawl)."""
        with self.store.session() as s:
            row = frontier.get(s, self.platform, found.media_id)
            attempts = (row.attempts if row is not None else 0) + 1
        frontier.mark(self.store, self.platform, found.media_id, "failed", reason=reason[:1000],
                      http_status=status, attempts=attempts)

    def item_refused(self, found: Found, answer: outcomes.Answer, url: str) -> None:
        """A wall instead of the item's page: counted by kind (``blocked``, ``needs_login``), the
        item stays to retry (an attempt counted); never parsed, never "gone"."""
        self.item_failed_attempt(found, f"{answer.kind}: {answer.reason}", answer.http_status)
        self.stats_counter[answer.kind] += 1
        self.errors.append(f"{url}: {answer.kind} ({answer.reason})")

    def parse_item(self, response: Response, found: Found) -> VideoItem:
        raise NotImplementedError

    # -- report --------------------------------------------------------------------------------
    def note_outcome(self, outcome) -> None:
        self.stats_counter[outcome.state] += 1
        if getattr(outcome, "kind", None) and outcome.state == "failed":
            self.stats_counter[outcome.kind] += 1
        if getattr(outcome, "retry_after_s", None):   # the longest wait a site asked for (pauses it)
            self.stats_counter["retry_after_s"] = max(self.stats_counter["retry_after_s"],
                                                      int(outcome.retry_after_s))
        if outcome.licensed:
            self.stats_counter["licensed"] += 1
        if outcome.reused_audio:
            self.stats_counter["reused_audio"] += 1
        self.stats_counter["detections"] += outcome.detections
        for w in outcome.work_ids:
            self.work_ids[w] += 1
        for k, v in outcome.timings.items():
            self.timings[k] += v
        if outcome.state == "failed" and outcome.reason:
            self.errors.append(f"{outcome.media_id}: {outcome.reason}")
        elif outcome.reason and outcome.reason.startswith("match failed"):
            self.stats_counter["match_failed"] += 1
            self.errors.append(f"{outcome.media_id}: {outcome.reason}")

    def listing_started(self) -> None:
        """One listing (search page, API page, flat extraction) asked for."""
        self.stats_counter["listings"] += 1

    def listing_lost(self, url: str, message: str, kind: str = "transient") -> None:
        """A listing that gave nothing usable (failed, walled, unreadable): counted, so a crawl
        whose every listing was lost reports failure, not an empty success."""
        self.stats_counter["listing_failed"] += 1
        self.stats_counter[f"listing_{kind}"] += 1
        self.note_error(url, f"{kind}: {message}")

    def note_error(self, url: str, message: str) -> None:
        self.stats_counter["errors"] += 1
        self.errors.append(f"{url}: {message}")

    def report(self) -> dict[str, Any]:
        return {"site": self.site_name, "platform": self.platform, "queries": self.queries,
                "counts": dict(self.stats_counter), "work_ids": dict(self.work_ids),
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "errors": self.errors[-50:], "elapsed_s": round(time.monotonic() - self.started, 3)}
