"""A site configured in YAML (``config/sites/<name>.yaml``): URL templates, selectors, rendering.

Listing pages (``search_url`` with ``{query}``, ``start_urls``) are read either
as HTML with CSS selectors (``listing.link``; ``render_js: true`` renders them in
Chromium first, clicking ``listing.load_more`` until ``listing.done`` shows) or
as JSON (``listing.json.items`` / ``.url`` / ``.id`` / ``.has_more`` dotted paths
with ``api_url`` and ``{page}``). Item pages give the fields under ``video:``;
a selector may be a list of alternatives (first that matches wins). A selector
in ``video.required`` that matches nothing, or a missing ``listing.container``,
raises :class:`crawler.errors.LayoutChanged` naming the site and the selector.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator
from urllib.parse import urljoin

from scrapy.http import Request, Response
from scrapy_playwright.page import PageMethod

from crawler import outcomes
from crawler.errors import LayoutChanged, SiteConfigError
from crawler.frontier import Found
from crawler.items import VideoItem
from crawler.media import parse_count
from crawler.middlewares import load_all_results
from crawler.spiders.base import BaseSpider

_VIDEO_FIELDS = ("title", "uploader", "uploader_id", "published_at", "view_count", "duration_s")


def select_first(sel, selector: str | list[str] | None) -> str | None:
    """The first non-empty match of a CSS selector (or of the first matching alternative)."""
    if not selector:
        return None
    for alt in ([selector] if isinstance(selector, str) else selector):
        value = sel.css(alt).get()
        if value is not None and value.strip():
            return value.strip()
    return None


def json_path(data: Any, path: str | None) -> Any:
    """``a.b.0.c`` into nested dicts/lists; None when any step is missing."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def _css_of(selector: str) -> str:
    """``a.video-card::attr(href)`` -> ``a.video-card`` (for counting elements in the browser)."""
    return re.sub(r"::(attr\([^)]*\)|text)$", "", selector)


class ConfigurableSiteSpider(BaseSpider):
    """Crawl any site described by a YAML file; the fixture platform is one of them."""

    name = "configurable"

    def __init__(self, *args: Any, render_js: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.site_cfg
        self.render_js = bool(cfg.get("render_js", False) if render_js is None else render_js)
        self.listing = dict(cfg.get("listing") or {})
        self.video = dict(cfg.get("video") or {})
        pattern = self.video.get("url_pattern")
        if not pattern or "(?P<id>" not in pattern:
            raise SiteConfigError(f"site {cfg.name!r}: video.url_pattern needs a named group (?P<id>...)")
        self.id_rx = re.compile(pattern)
        if not self.listing.get("link") and not self.listing.get("json") and not cfg.get("discovery"):
            raise SiteConfigError(f"site {cfg.name!r}: listing.link (CSS) or listing.json is required")

    # -- discovery -----------------------------------------------------------------------------
    def listing_urls(self) -> Iterator[tuple[str, str | None]]:
        cfg = self.site_cfg
        template = cfg.get("api_url") if self.listing.get("json") else cfg.get("search_url")
        if template:
            for q in self.queries:
                yield cfg.url(template, query=q, page="1"), q
        for url in cfg.get("start_urls") or []:
            yield cfg.url(url, page="1"), None

    def discovery_requests(self) -> Iterator[Request]:
        urls = list(self.listing_urls())
        if not urls:
            self.note_error(self.site_name, "nothing to crawl: no queries (import a catalog, set "
                            "crawler.queries.keywords or pass --query) and no start_urls")
        for url, query in urls:
            yield self.listing_request(url, query)

    def listing_request(self, url: str, query: str | None, page: int = 1) -> Request:
        meta: dict[str, Any] = {"query": query, "page": page}
        self.listing_started()
        if self.render_js and not self.listing.get("json"):
            meta["playwright"] = True
            link = self.listing.get("link", "")
            meta["playwright_page_methods"] = [PageMethod(
                load_all_results, load_more=self.listing.get("load_more"), done=self.listing.get("done"),
                items=_css_of(link) if link else None,
                timeout_ms=int(self.listing.get("wait_timeout_ms", 15000)),
                max_clicks=int(self.listing.get("max_pages", 50)))]
        return Request(url, callback=self.parse_listing, errback=self.listing_failed, meta=meta,
                       dont_filter=True)

    def listing_failed(self, failure) -> None:
        response = getattr(failure.value, "response", None)
        status = getattr(response, "status", None)
        kind = outcomes.from_page(status, response.body).kind if status else "transient"
        self.listing_lost(failure.request.url, f"HTTP {status}" if status else failure.getErrorMessage(), kind)

    def parse_listing(self, response: Response) -> Iterator[Request]:
        query = response.meta.get("query")
        wall = outcomes.from_page(response.status, response.body)
        if wall.is_wall:
            self.listing_lost(response.url, wall.reason, wall.kind)
            return
        if self.listing.get("json"):
            yield from self._parse_json_listing(response, query)
            return
        container = self.listing.get("container")
        if container and not response.css(container):
            self.layout_changed(LayoutChanged(self.site_name, container, response.url, "no results container"))
            self.stats_counter["listing_failed"] += 1
            return
        for pm in response.meta.get("playwright_page_methods") or ():
            if isinstance(pm.result, dict) and pm.result.get("complete") is False:
                self.stats_counter["listing_incomplete"] += 1
                self.errors.append(f"{response.url}: results still loading or more to load after "
                                   f"{pm.result['clicks']} clicks (listing.wait_timeout_ms / max_pages)")
        found = []
        for href in response.css(self.listing["link"]).getall():
            url = urljoin(response.url, href.strip())
            m = self.id_rx.search(url)
            if m:
                found.append(Found(m.group("id"), url, query, response.url))
        if not found:
            self.stats_counter["empty_listings"] += 1
            self.logger.info("%s: no item links (%s) on %s%s", self.site_name, self.listing["link"], response.url,
                             "" if self.render_js else " (render_js is off: JS-built results are invisible)")
        yield from self.follow_items(found)
        nxt = select_first(response, self.listing.get("next_page"))
        page = response.meta.get("page", 1)
        if nxt and page < int(self.listing.get("max_pages", 50)):
            yield self.listing_request(urljoin(response.url, nxt), query, page + 1)

    def _parse_json_listing(self, response: Response, query: str | None) -> Iterator[Request]:
        spec = self.listing["json"]
        try:
            data = json.loads(response.text)
        except ValueError:
            self.layout_changed(LayoutChanged(self.site_name, "listing.json", response.url, "no JSON"))
            self.stats_counter["listing_failed"] += 1
            return
        items = json_path(data, spec.get("items"))
        if not isinstance(items, list):
            self.layout_changed(LayoutChanged(self.site_name, f"listing.json.items={spec.get('items')}",
                                              response.url, "no list"))
            self.stats_counter["listing_failed"] += 1
            return
        found = []
        for entry in items:
            url = json_path(entry, spec.get("url", "url"))
            media_id = json_path(entry, spec.get("id", "id"))
            if url and media_id:
                listing = {k: json_path(entry, v) for k, v in (spec.get("fields") or {}).items()}
                found.append(Found(str(media_id), urljoin(response.url, str(url)), query, response.url, listing))
        yield from self.follow_items(found)
        page = response.meta.get("page", 1)
        if json_path(data, spec.get("has_more", "has_more")) and page < int(self.listing.get("max_pages", 50)):
            template = self.site_cfg.get("api_url")
            yield self.listing_request(self.site_cfg.url(template, query=query or "", page=str(page + 1)),
                                       query, page + 1)

    # -- items ---------------------------------------------------------------------------------
    def render_item_pages(self) -> bool:
        return bool(self.video.get("render_js", self.want_screenshot))

    def parse_item(self, response: Response, found: Found) -> VideoItem:
        values = {f: select_first(response, self.video.get(f)) for f in _VIDEO_FIELDS}
        for name in self.video.get("required") or []:
            if not values.get(name):
                raise LayoutChanged(self.site_name, f"video.{name}: {self.video.get(name)}", response.url)
        if self.video.get("jsonld", True):
            for key, value in jsonld_video(response).items():
                if not values.get(key):
                    values[key] = value
        return VideoItem(
            site=self.site_name, platform=self.platform, url=found.url, media_id=found.media_id,
            title=values["title"] or found.listing.get("title"), uploader=values["uploader"],
            uploader_id=values["uploader_id"], published_at=values["published_at"],
            view_count=parse_count(values["view_count"]),
            duration_s=parse_duration(values["duration_s"]),
        )


def parse_duration(value: str | None) -> float | None:
    """Seconds from ``"20.5"``, ``"1:02:03"`` or ISO 8601 ``"PT1M2S"``."""
    if not value:
        return None
    text = str(value).strip()
    m = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", text)
    if m and text not in ("P", "PT"):
        d, h, mi, sec = (float(x) if x else 0.0 for x in m.groups())
        return d * 86400 + h * 3600 + mi * 60 + sec
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        return None
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


def jsonld_video(response: Response) -> dict[str, str]:
    """Fields of a schema.org VideoObject/AudioObject in the page's JSON-LD, if any."""
    for raw in response.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        for obj in data if isinstance(data, list) else [data]:
            if not isinstance(obj, dict) or obj.get("@type") not in ("VideoObject", "AudioObject"):
                continue
            author = obj.get("author") if isinstance(obj.get("author"), dict) else {}
            stats = obj.get("interactionStatistic") or {}
            stats = stats[0] if isinstance(stats, list) and stats else stats
            out = {"title": obj.get("name"), "published_at": obj.get("uploadDate"),
                   "duration_s": obj.get("duration"), "uploader": author.get("name"),
                   "uploader_id": author.get("identifier"),
                   "view_count": stats.get("userInteractionCount") if isinstance(stats, dict) else None}
            return {k: str(v) for k, v in out.items() if v not in (None, "")}
    return {}
