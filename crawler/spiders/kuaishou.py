"""Kuaishou: yt-dlp has no extractor, so this spider reads the site itself, rendered by Chromium.

Search ``https://www.kuaishou.com/search/video?searchKey=QUERY`` and profile pages are
built by JavaScript; their video cards link ``/short-video/<id>``. A video page, once
rendered, has a ``<video src>`` whose URL (a CDN MP4) is handed to yt-dlp as a direct
media URL. Kuaishou shows results only to a browser with its cookies (``did``,
``kuaishou.web.cp.api_ph``): export them from a logged-in browser into
``crawler.sites.kuaishou.cookies_file`` and set ``crawler.sites.kuaishou.cookies`` if the
site asks for a login; a mainland-China proxy is usually needed.
Selectors are data (``SELECTORS``), checked on recorded pages in the tests.
"""

from __future__ import annotations

import re
from typing import Iterator
from urllib.parse import quote, urljoin

from scrapy.http import Request, Response
from scrapy_playwright.page import PageMethod

from crawler.errors import LayoutChanged
from crawler.frontier import Found
from crawler.items import VideoItem
from crawler.media import parse_count
from crawler.spiders.base import BaseSpider
from crawler.spiders.browser import PageDiscoveryMixin

BASE = "https://www.kuaishou.com"
SEARCH_URL = BASE + "/search/video?searchKey={query}"
SELECTORS = {
    "card": "a[href*='/short-video/']::attr(href)",
    "title": [".video-info-title::text", "meta[name=description]::attr(content)", "title::text"],
    "uploader": [".profile-user-name-title::text", ".user-name::text"],
    "uploader_link": "a[href*='/profile/']::attr(href)",
    "likes": [".like-count::text", ".video-info-like::text"],
    "video": ["video::attr(src)", "video source::attr(src)"],
}
ITEM_RX = re.compile(r"/short-video/(?P<id>[0-9A-Za-z_-]+)")
PROFILE_RX = re.compile(r"/profile/(?P<id>[0-9A-Za-z_-]+)")


def _first(sel, selectors) -> str | None:
    for s in [selectors] if isinstance(selectors, str) else selectors:
        v = sel.css(s).get()
        if v and v.strip():
            return v.strip()
    return None


def parse_listing(response: Response, query: str | None = None) -> list[Found]:
    """Video links on a rendered search or profile page."""
    out = []
    for href in response.css(SELECTORS["card"]).getall():
        url = urljoin(response.url, href).split("?")[0]
        m = ITEM_RX.search(url)
        if m:
            out.append(Found(m.group("id"), url, query, response.url))
    return list({f.media_id: f for f in out}.values())


def parse_video(response: Response, found: Found, site: str = "kuaishou") -> VideoItem:
    """A rendered video page: metadata and the media URL; no media URL means the layout changed."""
    media_url = _first(response, SELECTORS["video"])
    if not media_url:
        raise LayoutChanged(site, " | ".join(SELECTORS["video"]), response.url, "no video source")
    profile = _first(response, SELECTORS["uploader_link"]) or ""
    m = PROFILE_RX.search(profile)
    return VideoItem(site=site, platform="kuaishou", url=found.url, media_id=found.media_id,
                     title=_first(response, SELECTORS["title"]), uploader=_first(response, SELECTORS["uploader"]),
                     uploader_id=m.group("id") if m else None,
                     media_url=urljoin(response.url, media_url),
                     extra={"likes": parse_count(_first(response, SELECTORS["likes"]))})


class KuaishouSpider(PageDiscoveryMixin, BaseSpider):
    name = "kuaishou"
    platform = "kuaishou"

    async def discover(self):
        """Queries inside Kuaishou's own search page when ``discovery:`` is configured
        (``config/sites/kuaishou.yaml``: the page's GraphQL answers are read), else the
        rendered search page's cards; ``start_urls`` either way."""
        if self.queries and self.site_cfg.get("discovery"):
            async for req in self.discover_in_pages():
                yield req
            for url in self.site_cfg.get("start_urls") or []:
                yield Request(str(url), callback=self.parse_listing, meta={
                    "query": None, "playwright": True,
                    "playwright_page_methods": [PageMethod("wait_for_load_state", "networkidle")]})
            return
        async for req in super().discover():
            yield req

    def discovery_requests(self) -> Iterator[Request]:
        urls = [(SEARCH_URL.format(query=quote(q)), q) for q in self.queries if q]
        urls += [(str(u), None) for u in self.site_cfg.get("start_urls") or []]
        for url, q in urls:
            yield Request(url, callback=self.parse_listing, meta={
                "query": q, "playwright": True,
                "playwright_page_methods": [PageMethod("wait_for_load_state", "networkidle")]})

    def parse_listing(self, response: Response):
        found = parse_listing(response, response.meta.get("query"))
        if not found:
            self.stats_counter["empty_listings"] += 1
        yield from self.follow_items(found)

    def render_item_pages(self) -> bool:
        return True   # the media URL exists only after rendering

    def parse_item(self, response: Response, found: Found) -> VideoItem:
        return parse_video(response, found, self.site_name)
