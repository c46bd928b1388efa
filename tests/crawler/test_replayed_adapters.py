"""Real adapters on replayed platform answers: yt-dlp's own extractors run on recorded-shape
responses (tests/crawler/replays/<platform>/, see the README there) through the crawler's own
client path (crawler.spiders.ytdlp.flat_extract), and the adapter turns them into frontier items.
The transport is replaced (tests/crawler/replay.py): an unrecorded request fails, nothing leaves
the machine."""

from __future__ import annotations

import pytest

from tests.crawler.replay import replayed


def _spider(name, **kw):
    from crawler.config import load_site
    from crawler.spiders import spider_for
    site = load_site(name)
    return spider_for(site)(site, **kw)


@pytest.fixture
def quick(home, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__TIMES", "0")
    settings.configure(home)


def _listed(spider, query, *, limit):
    from crawler.spiders.ytdlp import flat_extract
    streamed = []
    url = spider.search_url(query)
    info = flat_extract(url, spider.site_cfg, limit=limit, on_entry=streamed.append)
    return info, streamed, spider.entries_to_found(info, query=query, listing_url=url)


def test_youtube_search_through_ytdlp_innertube(store, quick, monkeypatch):
    """ytsearch -> YoutubeSearchIE -> POST youtubei/v1/search (two pages): the live result is
    skipped, the bound stops before page 3, entries stream out one by one."""
    spider = _spider("youtube", queries=["velvet morning"])
    with replayed(monkeypatch, "youtube") as replay:
        info, streamed, found = _listed(spider, "velvet morning", limit=4)
    assert [e["id"] for e in streamed] == [e["id"] for e in info["entries"]]      # handed over as read
    assert [f.media_id for f in found] == ["dQw4w9WgXcQ", "AbCdEfGhIj0", "ZyXwVuTsRq9"]
    assert spider.stats_counter["skipped_live"] == 1
    first = found[0]
    assert first.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ" and first.query == "velvet morning"
    assert first.listing["view_count"] == 182340 and first.listing["duration"] == 62
    assert first.listing["channel_id"] == "UCaaaaaaaaaaaaaaaaaaaaaa"
    posts = [u for m, u in replay.log if m == "POST"]
    assert len(posts) == 2 and not replay.unmatched            # page 3 was never asked for


def test_bilibili_search_gives_av_urls_the_adapter_reads(store, quick, monkeypatch):
    """bilisearch -> BiliBiliSearchIE -> api.bilibili.com search/type: the real API answers
    ``arcurl`` as http://www.bilibili.com/video/av<aid>; the adapter keeps the av id."""
    spider = _spider("bilibili", queries=["velvet morning"])
    with replayed(monkeypatch, "bilibili") as replay:
        info, streamed, found = _listed(spider, "velvet morning", limit=3)
    assert [f.media_id for f in found] == ["av113456789012345", "av113456789012346", "av113456789012347"]
    assert all(f.url.startswith("http://www.bilibili.com/video/av") for f in found)
    assert len(replay.log) == 1 and "keyword=velvet+morning" in replay.log[0][1]
    assert len(streamed) == 3


def test_a_youtube_bot_check_is_blocked_not_gone(store, quick, monkeypatch):
    """The watch page and player API answering YouTube's bot check, through YoutubeIE itself."""
    from crawler import media
    from crawler.errors import Refused
    with replayed(monkeypatch, "youtube_botcheck"):
        with pytest.raises(Refused) as err:
            media.extract("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert (err.value.kind, err.value.reason) == ("blocked", "bot_check")
