"""TikTok: sound pages (``/music/<name>-<id>``: every video using one piece of music), tags,
users. Queries are searched inside TikTok's own search page (``config/sites/tiktok.yaml``
``discovery:``: the page signs ``/api/search/item/full/``, the crawl reads its JSON); without that
block a query becomes a tag page. Live rooms (``/@user/live``) are sampled by ``live sample``.

yt-dlp 2026.10 marks its TikTok sound/tag extractors as not working reliably
(``_WORKING = False``): they need cookies of a logged-in browser session
(``crawler.sites.tiktok.cookies_file``) and often a proxy in a supported region.
"""

import re

from crawler.spiders.browser import PageDiscoveryMixin
from crawler.spiders.ytdlp import YtdlpSpider


class TiktokSpider(PageDiscoveryMixin, YtdlpSpider):
    name = "tiktok"
    platform = "tiktok"
    listing_examples = ("https://www.tiktok.com/music/Build-a-Btch-6956990112127585029",
                        "https://www.tiktok.com/tag/fyp", "https://www.tiktok.com/@tiktok")
    entry_rx = r"tiktok\.com/@[\w.-]*/video/(?P<id>\d+)"

    def entry_url(self, entry):
        """``https://www.tiktok.com/@<user>/video/<id>`` (yt-dlp's list entries use a host its
        own TikTok extractor does not accept)."""
        m = re.search(r"/video/(\d+)", str(entry.get("webpage_url") or entry.get("url") or ""))
        vid = m.group(1) if m else entry.get("id")
        if not vid:
            return None
        return f"https://www.tiktok.com/@{entry.get('uploader') or '_'}/video/{vid}"

    async def discover(self):
        """Queries in TikTok's own search page (when configured), then ``start_urls`` through yt-dlp."""
        if self.queries and self.site_cfg.get("discovery"):
            async for req in self.discover_in_pages():
                yield req
        if self.site_cfg.get("start_urls") or not self.site_cfg.get("discovery"):
            async for req in super().discover():
                yield req

    def search_url(self, query):
        if self.site_cfg.get("discovery"):
            return None          # searched in the page instead (discover_in_pages)
        tag = re.sub(r"[^\w]", "", query.lower())
        return f"https://www.tiktok.com/tag/{tag}" if tag else None
