"""Shared base of the real-platform adapters built on yt-dlp's extractors (flat extraction).

Discovery asks yt-dlp for a search (``bilisearch20:QUERY``, ``ytsearch20:QUERY``) or a
listing page (a TikTok sound, tag or user page; a Bilibili space; a YouTube
channel) with ``extract_flat``: one request per listing, entries without their
media. Each entry becomes a frontier item; its page is then rendered (evidence)
and its audio fetched by the same yt-dlp through :mod:`crawler.media`.

A platform file sets ``search_template`` (or None), ``entry_rx`` (an item URL with
a named ``id`` group) and, where needed, overrides :meth:`YtdlpSpider.entry_url`.
Per site settings (``crawler.sites.<name>``): ``start_urls`` (listing pages),
``search_results`` (entries per search), ``cookies_file``, ``proxy``,
``user_agent``, ``obey_robots``.
"""

from __future__ import annotations

import queue
import re
from typing import Any, AsyncIterator, Callable

from scrapy.http import Request, Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler import media
from crawler.errors import ContentGone, CrawlerError
from crawler.frontier import Found
from crawler.items import VideoItem
from crawler.spiders.base import BaseSpider

LISTING_FIELDS = ("title", "uploader", "uploader_id", "channel", "channel_id", "view_count", "timestamp",
                  "upload_date", "duration", "release_timestamp")


LIVE_STATUSES = ("is_live", "is_upcoming")


def is_live_entry(entry: dict[str, Any]) -> bool:
    """A listing entry that is (or will be) a live stream: not a video to fetch."""
    return bool(entry.get("is_live")) or entry.get("live_status") in LIVE_STATUSES


def _streaming_ydl(opts: dict[str, Any], on_entry: Callable[[dict[str, Any]], None] | None, site=None):
    """A YoutubeDL that hands each flat entry of a listing to ``on_entry`` as yt-dlp walks the
    listing (page by page for paged searches), instead of only at the end; polite per domain."""
    from crawler import politeness

    class ListingYDL(politeness.youtube_dl_class(site)):
        def process_ie_result(self, ie_result, download=True, extra_info=None):
            result = super().process_ie_result(ie_result, download, extra_info)
            if on_entry is not None and extra_info and "playlist" in extra_info \
                    and ie_result.get("_type") in ("url", "url_transparent"):
                on_entry(dict(ie_result))
            return result

    return ListingYDL(opts)


def flat_extract(url: str, site=None, *, limit: int | None = None,
                 on_entry: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """yt-dlp's flat result for a search or listing URL (entries are not resolved), at most
    ``limit`` entries (yt-dlp's ``playlistend``: later pages are never requested); with
    ``on_entry`` each entry is also handed over as soon as yt-dlp reads it."""
    opts = media.ydl_options(site)
    opts.update({"extract_flat": "in_playlist", "noplaylist": False, "playlistend": limit})

    def run():
        with _streaming_ydl(opts, on_entry, site) as ydl:
            return ydl.sanitize_info(ydl.extract_info(url, download=False))

    return media._with_retries(run, url)


_END = object()


def _next_batch(q: "queue.Queue", most: int = 50) -> list:
    """Block for one entry, then take whatever else is ready (run in a thread)."""
    batch = [q.get()]
    while batch[-1] is not _END and len(batch) < most:
        try:
            batch.append(q.get_nowait())
        except queue.Empty:
            break
    return batch


class YtdlpSpider(BaseSpider):
    """Discover with yt-dlp's flat extraction; platform files only describe URLs and entries."""

    search_template: str | None = None      # "{n}" entries, "{query}" raw (yt-dlp search keys)
    listing_examples: tuple[str, ...] = ()  # documented listing URL shapes (tests check yt-dlp accepts them)
    entry_rx: str = r"(?P<id>[^/?#]+)/?$"

    def search_url(self, query: str) -> str | None:
        if not self.search_template:
            return None
        n = int(self.site_cfg.get("search_results", 20))
        return self.search_template.format(n=n, query=query)

    def listing_urls(self) -> list[tuple[str, str | None]]:
        out = [(u, q) for q in self.queries if (u := self.search_url(q))]
        out += [(str(u), None) for u in self.site_cfg.get("start_urls") or []]
        if not out:
            raise CrawlerError(f"site {self.site_name!r}: nothing to crawl: this adapter has no search; "
                               f"set crawler.sites.{self.site_name}.start_urls (listing pages)")
        return out

    def listing_limit(self) -> int:
        """Entries read from one listing at most (``listing_max_entries``, else the crawl's limit)."""
        return int(self.site_cfg.get("listing_max_entries") or self.limit)

    async def discover(self) -> AsyncIterator[Request]:
        """Each listing streamed into the frontier: entries reach it (and the fetch queue) while
        yt-dlp is still reading later pages; at most :meth:`listing_limit` entries a listing."""
        for url, query in self.listing_urls():
            self.listing_started()
            entries: queue.Queue = queue.Queue()
            failure: list[BaseException] = []

            def walk(url=url, entries=entries, failure=failure):
                try:
                    flat_extract(url, self.site_cfg, limit=self.listing_limit(), on_entry=entries.put)
                except Exception as exc:  # noqa: BLE001  reported below, in the reactor thread
                    failure.append(exc)
                finally:
                    entries.put(_END)

            deferToThread(walk)
            while True:
                batch = await maybe_deferred_to_future(deferToThread(_next_batch, entries))
                found = [f for e in batch if e is not _END
                         if (f := self.entry_to_found(e, query=query, listing_url=url)) is not None]
                for req in self.follow_items(found):
                    yield req
                if batch[-1] is _END:
                    break
            if failure:
                exc = failure[0]
                kind = getattr(exc, "kind", "broken")
                if isinstance(exc, (ContentGone, CrawlerError)):
                    self.listing_lost(url, str(exc), kind)
                else:
                    self.listing_lost(url, repr(exc), "broken")

    # -- parsing (pure: tested on recorded results) ---------------------------------------------
    def entry_url(self, entry: dict[str, Any]) -> str | None:
        url = entry.get("url") or entry.get("webpage_url")
        return str(url) if url else None

    def entries_to_found(self, info: dict[str, Any], *, query: str | None = None,
                         listing_url: str | None = None) -> list[Found]:
        """Frontier items from a flat result; entries that are not item URLs are skipped."""
        found = (self.entry_to_found(e, query=query, listing_url=listing_url) for e in info.get("entries") or [])
        return [f for f in found if f is not None]

    def entry_to_found(self, entry: Any, *, query: str | None = None,
                       listing_url: str | None = None) -> Found | None:
        """One flat entry as a frontier item; None for what is not a video to fetch (not an item
        URL, or a live stream: rooms are sampled by ``earwitness live sample``, never downloaded)."""
        if not isinstance(entry, dict):
            return None
        if is_live_entry(entry):
            self.stats_counter["skipped_live"] += 1
            return None
        url = self.entry_url(entry)
        m = re.search(self.entry_rx, url or "")
        if not m:
            return None
        listing = {k: entry[k] for k in LISTING_FIELDS if entry.get(k) not in (None, "")}
        return Found(media_id=str(m.group("id")), url=url, query=query, found_on=listing_url, listing=listing)

    def parse_item(self, response: Response, found: Found) -> VideoItem:
        title = response.css("title::text").get() if isinstance(response, TextResponse) else None
        return self.item_from_listing(found, page_title=title)   # a direct media link has no page

    def item_from_listing(self, found: Found, *, page_title: str | None = None) -> VideoItem:
        li = found.listing
        published = li.get("timestamp") or li.get("release_timestamp") or li.get("upload_date")
        return VideoItem(site=self.site_name, platform=self.platform, url=found.url, media_id=found.media_id,
                         title=li.get("title") or (page_title or "").strip() or None,
                         uploader=li.get("uploader") or li.get("channel"),
                         uploader_id=li.get("uploader_id") or li.get("channel_id"),
                         published_at=media.parse_time(published).isoformat() if media.parse_time(published) else None,
                         view_count=media.parse_count(li.get("view_count")),
                         duration_s=float(li["duration"]) if li.get("duration") else None)


class ListingSpider(YtdlpSpider):
    """A site described in YAML (``kind: ytdlp``) whose listings some yt-dlp extractor reads
    (feeds, playlists, channels): ``start_urls`` and/or ``search_url`` (``{base_url}``,
    ``{query}``), ``video.url_pattern`` (a regex with ``(?P<id>...)``) for the item URLs."""

    name = "ytdlp_listing"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entry_rx = (self.site_cfg.get("video") or {}).get("url_pattern") or self.entry_rx

    def listing_urls(self) -> list[tuple[str, str | None]]:
        cfg = self.site_cfg
        out = [(cfg.url(cfg.get("search_url"), query=q), q) for q in self.queries if cfg.get("search_url")]
        out += [(cfg.url(str(u)), None) for u in cfg.get("start_urls") or []]
        if not out:
            raise CrawlerError(f"site {self.site_name!r}: nothing to crawl: set search_url or start_urls")
        return out


class LiveRoomAdapter:
    """A live platform: rooms are sampled by ``earwitness live sample --room URL`` (yt-dlp gives
    the HLS URL); there is nothing to crawl. ``room_rx`` is yt-dlp's own ``_VALID_URL``."""

    live_only = True
    ie_name = ""

    @classmethod
    def extractor(cls):
        from yt_dlp.extractor import get_info_extractor
        return get_info_extractor(cls.ie_name)

    @classmethod
    def room_id(cls, url: str) -> str | None:
        ie = cls.extractor()
        return ie.get_temp_id(url) if ie.suitable(url) else None
