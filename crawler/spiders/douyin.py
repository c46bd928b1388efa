"""Douyin: yt-dlp 2026.10 extracts single videos only (``douyin.com/video/<id>``): there is no
search or listing extractor, so discovery is the video URLs listed in
``crawler.sites.douyin.start_urls`` (e.g. exported from the Douyin app). Needs cookies
(``cookies_file``: Douyin answers logged-out clients with a captcha page)."""

from crawler.frontier import Found
from crawler.spiders.ytdlp import YtdlpSpider


class DouyinSpider(YtdlpSpider):
    name = "douyin"
    platform = "douyin"
    listing_examples = ("https://www.douyin.com/video/6961737553342991651",)
    entry_rx = r"douyin\.com/video/(?P<id>\d+)"

    async def discover(self):
        import re
        rx = re.compile(self.entry_rx)
        found = [Found(m.group("id"), str(u), None, None) for u in self.site_cfg.get("start_urls") or []
                 if (m := rx.search(str(u)))]
        for req in self.follow_items(found):
            yield req
