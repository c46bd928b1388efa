"""Item pipeline: one stage, the media pipeline (fetch, store, match) in worker threads.

Reads ``crawler.media.fetch_workers`` (items fetched at once, each in its own thread
of a pool kept apart from the reactor's, which resolves DNS); the work itself is
:func:`crawler.ingest.ingest_item`.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from scrapy import signals

from crawler import config
from crawler.ingest import ingest_item
from crawler.items import VideoItem

log = logging.getLogger(__name__)


class MediaPipeline:
    """Fetch each item's audio, store the clip with its evidence, hand it to the matcher."""

    def __init__(self, crawler, workers: int) -> None:
        self.crawler = crawler
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        crawler.signals.connect(self.close, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        workers = int(config.section()["media"]["fetch_workers"])
        return cls(crawler, max(1, workers))

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    async def process_item(self, item: VideoItem) -> VideoItem:
        spider = self.crawler.spider
        try:
            outcome = await asyncio.wrap_future(self.pool.submit(
                ingest_item, spider.store, item, spider.site_cfg,
                on_clip_stored=spider.on_clip_stored, max_attempts=spider.max_attempts))
        except Exception as exc:  # a bug in one item must not end the crawl; it stays discovered
            log.exception("ingesting %s failed", item.url)
            spider.note_error(item.url, repr(exc))
            return item
        spider.note_outcome(outcome)
        return item
