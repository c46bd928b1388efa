"""Douyin: search inside Douyin's own search page (``config/sites/douyin.yaml`` ``discovery:``:
the page's scripts sign ``/aweme/v1/web/search/item/`` and friends, the crawl reads the JSON they
receive) when there are queries, plus the video URLs in ``start_urls``. Single videos are
extracted by yt-dlp's ``Douyin`` extractor. Needs a kept login (``earwitness login douyin``:
logged-out clients get a captcha page) and usually a mainland-China network."""

from crawler.frontier import Found
from crawler.spiders.browser import PageDiscoveryMixin
from crawler.spiders.ytdlp import YtdlpSpider


class DouyinSpider(PageDiscoveryMixin, YtdlpSpider):
    name = "douyin"
    platform = "douyin"
    listing_examples = ("https://www.douyin.com/video/6961737553342991651",)
    entry_rx = r"douyin\.com/video/(?P<id>\d+)"

    async def discover(self):
        import re
        if self.queries and self.site_cfg.get("discovery"):
            async for req in self.discover_in_pages():
                yield req
        rx = re.compile(self.entry_rx)
        found = [Found(m.group("id"), str(u), None, None) for u in self.site_cfg.get("start_urls") or []
                 if (m := rx.search(str(u)))]
        for req in self.follow_items(found):
            yield req
