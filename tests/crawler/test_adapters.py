"""Real-platform adapters on recorded (constructed) responses: one generic test over all of them.

See tests/crawler/recorded/README.md for where each recording comes from and what
these tests do and do not prove. No test here touches the network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

RECORDED = Path(__file__).parent / "recorded"
FLAT = sorted(RECORDED.glob("*/*.json"))


def _spider(name):
    from crawler.spiders import spider_for
    return spider_for(name)(site=name, queries=[], limit=10)


@pytest.mark.parametrize("path", FLAT, ids=[f"{p.parent.name}/{p.stem}" for p in FLAT])
def test_flat_results_become_frontier_items(store, path):
    case = json.loads(path.read_text(encoding="utf-8"))
    spider = _spider(case["adapter"])
    found = spider.entries_to_found(case["info"], query=case["query"], listing_url=case["listing_url"])
    assert [(f.media_id, f.url) for f in found] == [(e["media_id"], e["url"]) for e in case["expect"]]
    for f, exp in zip(found, case["expect"]):
        assert f.found_on == case["listing_url"] and f.query == case["query"]
        item = spider.item_from_listing(f)
        for key in ("title", "uploader", "uploader_id", "view_count", "duration_s", "published_at"):
            if key in exp:
                assert getattr(item, key) == exp[key], key


@pytest.mark.parametrize("path", FLAT, ids=[f"{p.parent.name}/{p.stem}" for p in FLAT])
def test_item_urls_are_accepted_by_yt_dlp(store, path):
    """Each item URL an adapter builds is one yt-dlp's site extractor (not the generic one) handles."""
    from yt_dlp.extractor import gen_extractor_classes
    case = json.loads(path.read_text(encoding="utf-8"))
    for exp in case["expect"]:
        ie = next(ie for ie in gen_extractor_classes() if ie.suitable(exp["url"]))
        assert ie.ie_key() != "Generic", exp["url"]


@pytest.mark.parametrize("name,query,key", [("bilibili", "Velvet Morning", "BiliBiliSearch"),
                                            ("youtube", "Velvet Morning", "YoutubeSearch"),
                                            ("tiktok", "sped up!", "TikTokTag")])
def test_search_urls_go_to_the_right_extractor(store, name, query, key, home, monkeypatch):
    from yt_dlp.extractor import gen_extractor_classes
    from earwitness.kernel import settings
    # TikTok searches inside its own page (config/sites/tiktok.yaml); without that block, a tag page
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__TIKTOK__DISCOVERY", "null")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__TIKTOK__START_URLS", '["https://www.tiktok.com/@tiktok"]')
    settings.configure(home)
    url = _spider(name).search_url(query)
    ie = next(ie for ie in gen_extractor_classes() if ie.suitable(url))
    assert ie.ie_key() == key, (url, ie.ie_key())


@pytest.mark.parametrize("name", ["bilibili", "youtube", "tiktok", "douyin"])
def test_documented_listing_urls_go_to_site_extractors(store, name):
    from yt_dlp.extractor import gen_extractor_classes
    for url in _spider(name).listing_examples:
        ie = next(ie for ie in gen_extractor_classes() if ie.suitable(url))
        assert ie.ie_key() != "Generic", url


@pytest.mark.parametrize("url,platform,room", [("https://www.huya.com/lpl", "huya", "lpl"),
                                               ("https://www.douyu.com/9999", "douyu", "9999"),
                                               ("https://www.twitch.tv/shroud", "twitch", "shroud"),
                                               ("https://example.com/live/1", None, None)])
def test_live_rooms_are_recognised(url, platform, room):
    from crawler.spiders import ADAPTERS, live_platform_of
    assert live_platform_of(url) == platform
    if platform:
        import importlib
        module, attr = ADAPTERS[platform].split(":")
        assert getattr(importlib.import_module(module), attr).room_id(url) == room


def test_live_platforms_are_not_crawled(store):
    from crawler.errors import SiteConfigError
    from crawler.spiders import spider_for
    with pytest.raises(SiteConfigError, match="live sample"):
        spider_for("twitch")


def test_douyin_needs_start_urls(store, monkeypatch):
    from crawler.errors import CrawlerError
    with pytest.raises(CrawlerError, match="start_urls"):
        _spider("douyin").listing_urls()


def test_kuaishou_pages(store):
    from crawler.errors import LayoutChanged
    from crawler.spiders.kuaishou import parse_listing, parse_video
    search = HtmlResponse("https://www.kuaishou.com/search/video?searchKey=velvet",
                          body=(RECORDED / "kuaishou" / "search.html").read_bytes(), encoding="utf-8")
    found = parse_listing(search, "velvet")
    assert [(f.media_id, f.url) for f in found] == [
        ("3xg9avuebhtfcku", "https://www.kuaishou.com/short-video/3xg9avuebhtfcku"),
        ("3x5tb7ysxgzvyz4", "https://www.kuaishou.com/short-video/3x5tb7ysxgzvyz4")]
    body = (RECORDED / "kuaishou" / "video.html").read_bytes()
    item = parse_video(HtmlResponse(found[0].url, body=body, encoding="utf-8"), found[0])
    assert item.title == "Velvet Morning 翻唱 #音乐" and item.uploader == "Kiki 🌸" and item.uploader_id == "3xabc"
    assert item.media_url.startswith("https://v2.kwaicdn.com/") and "&clientCacheKey=" in item.media_url
    assert item.extra["likes"] == 12000
    with pytest.raises(LayoutChanged, match="'kuaishou'.*video::attr\\(src\\)"):
        parse_video(HtmlResponse(found[0].url, body=body.replace(b"<video", b"<div"), encoding="utf-8"), found[0])
