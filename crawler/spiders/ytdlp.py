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

import re
from typing import Any, AsyncIterator

from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler import media
from crawler.errors import ContentGone, CrawlerError
from crawler.frontier import Found
from crawler.items import VideoItem
from crawler.spiders.base import BaseSpider

LISTING_FIELDS = ("title", "uploader", "uploader_id", "channel", "channel_id", "view_count", "timestamp",
                  "upload_date", "duration", "release_timestamp")


def flat_extract(url: str, site=None) -> dict[str, Any]:
    """yt-dlp's flat result for a search or listing URL (entries are not resolved)."""
    import yt_dlp
    opts = media.ydl_options(site)
    opts.update({"extract_flat": "in_playlist", "noplaylist": False, "playlistend": None})

    def run():
        with yt_dlp.YoutubeDL(opts) as ydl:
            return ydl.sanitize_info(ydl.extract_info(url, download=False))

    return media._with_retries(run, url)


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

    async def discover(self) -> AsyncIterator[Request]:
        for url, query in self.listing_urls():
            try:
                info = await maybe_deferred_to_future(deferToThread(flat_extract, url, self.site_cfg))
            except (ContentGone, CrawlerError) as exc:
                self.note_error(url, str(exc))
                continue
            for req in self.follow_items(self.entries_to_found(info, query=query, listing_url=url)):
                yield req

    # -- parsing (pure: tested on recorded results) ---------------------------------------------
    def entry_url(self, entry: dict[str, Any]) -> str | None:
        url = entry.get("url") or entry.get("webpage_url")
        return str(url) if url else None

    def entries_to_found(self, info: dict[str, Any], *, query: str | None = None,
                         listing_url: str | None = None) -> list[Found]:
        """Frontier items from a flat result; entries that are not item URLs are skipped."""
        out = []
        rx = re.compile(self.entry_rx)
        for entry in info.get("entries") or []:
            if not isinstance(entry, dict):
                continue
            url = self.entry_url(entry)
            m = rx.search(url or "")
            if not m:
                continue
            listing = {k: entry[k] for k in LISTING_FIELDS if entry.get(k) not in (None, "")}
            out.append(Found(media_id=str(m.group("id")), url=url, query=query, found_on=listing_url,
                             listing=listing))
        return out

    def parse_item(self, response: Response, found: Found) -> VideoItem:
        return self.item_from_listing(found, page_title=response.css("title::text").get())

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
