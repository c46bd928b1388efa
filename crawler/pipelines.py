"""Item pipeline: one stage, the media pipeline (fetch, store, match) in worker threads.

Reads ``CONCURRENT_ITEMS`` (items in flight) and the reactor thread pool size
(``REACTOR_THREADPOOL_MAXSIZE``); the work itself is :func:`crawler.ingest.ingest_item`.
"""

from __future__ import annotations

import logging

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.ingest import ingest_item
from crawler.items import VideoItem

log = logging.getLogger(__name__)


class MediaPipeline:
    """Fetch each item's audio, store the clip with its evidence, hand it to the matcher."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item: VideoItem) -> VideoItem:
        spider = self.crawler.spider
        try:
            outcome = await maybe_deferred_to_future(deferToThread(
                ingest_item, spider.store, item, spider.site_cfg,
                do_match=spider.do_match, max_attempts=spider.max_attempts))
        except Exception as exc:  # a bug in one item must not end the crawl; it stays discovered
            log.exception("ingesting %s failed", item.url)
            spider.note_error(item.url, repr(exc))
            return item
        spider.note_outcome(outcome)
        return item
