"""Bilibili: search (yt-dlp ``bilisearch``), spaces (``space.bilibili.com/<uid>/video``); live rooms
(``live.bilibili.com/<id>``) are sampled by ``earwitness live sample``."""

from crawler.spiders.ytdlp import YtdlpSpider


class BilibiliSpider(YtdlpSpider):
    name = "bilibili"
    platform = "bilibili"
    search_template = "bilisearch{n}:{query}"
    listing_examples = ("https://space.bilibili.com/3494380876859618/video",)
    entry_rx = r"bilibili\.com/video/(?P<id>[Bb][Vv][0-9A-Za-z]{10}|av\d+)"
