"""Whole crawls (Scrapy child process, yt-dlp, the store) against a misbehaving site: failures
are counted and reported as failures, walls are walls, a killed crawl's clips are matched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.crawler.hostile import HostileSite

pytestmark = pytest.mark.slow

SITE_YAML = """
name: hostile
platform: hostile
kind: ytdlp                      # listings read by yt-dlp (here: an RSS feed)
base_url: {url}
start_urls: ["{{base_url}}{feed}"]
listing_max_entries: 6
screenshot: false
obey_robots: false
video:
  url_pattern: "/(?:media/|status/)?(?P<id>[^/?#]+)$"
"""


@pytest.fixture
def hostile_home(home, monkeypatch):
    from earwitness.kernel import settings
    for key, value in {"RETRY__TIMES": "1", "RETRY__BACKOFF_BASE_S": "0.05", "RETRY__MAX_BACKOFF_S": "1"}.items():
        monkeypatch.setenv(f"EARWITNESS__CRAWLER__{key}", value)
    site = HostileSite()
    (home / "sites").mkdir(exist_ok=True)

    def configure(feed="/feed.rss"):
        (home / "sites" / "hostile.yaml").write_text(SITE_YAML.format(url=site.url, feed=feed))
        settings.configure(home)

    configure()
    yield site, configure
    site.close()


def test_listing_is_bounded_walls_and_errors_count_attempts(hostile_home, store):
    from crawler.models import FrontierEntry
    from crawler.run import crawl_site
    site, _ = hostile_home
    site.feed = ["/status/503", "/botwall"] + [f"/media/c{i}.wav" for i in range(10)]
    report = crawl_site("hostile", timeout_s=240)
    assert report.ok, report
    assert report.counts["listings"] == 1 and report.counts["listed"] == 6, report.counts  # listing_max_entries
    assert report.counts["fetched"] == 4 and report.counts["blocked"] == 1, report.counts
    assert site.hits["/media/c9.wav"] == 0                      # past the bound: never requested
    with store.session() as s:
        rows = {r.media_id: r for r in s.scalars(select(FrontierEntry))}
    assert (rows["503"].state, rows["503"].attempts) == ("failed", 1)
    assert rows["503"].reason.startswith("transient")
    assert (rows["botwall"].state, rows["botwall"].attempts) == ("failed", 1)
    assert rows["botwall"].reason.startswith("blocked")          # a wall, never "gone"
    again = crawl_site("hostile", timeout_s=240)
    with store.session() as s:
        rows = {r.media_id: r for r in s.scalars(select(FrontierEntry))}
    assert rows["503"].attempts == 2 and rows["botwall"].attempts == 2, again.counts


def test_a_crawl_whose_every_listing_failed_is_not_ok(hostile_home, store):
    from crawler.run import crawl_site
    _, configure = hostile_home
    configure(feed="/status/500")
    report = crawl_site("hostile", timeout_s=240)
    assert not report.ok and report.counts["listing_failed"] == 1
    assert "every listing failed" in report.errors[0]


def test_a_restarted_crawl_matches_clips_a_killed_one_stored(catalog_store, proxy, platform):
    """A crawl killed between storing clips and matching them leaves them 'fetched'; the next
    crawl of the site hands them to the matcher before anything else."""
    from crawler.config import load_site
    from crawler.ingest import ingest_item
    from crawler.items import VideoItem
    from crawler.run import crawl_site
    from earwitness.app.matching import match_stored_clip
    from earwitness.kernel.store.models import Clip, Detection
    copies = [v for v in platform.truth["videos"] if v["kind"] == "catalog"][:2]
    for v in copies:    # stored, never matched: what a kill between the two steps leaves
        item = VideoItem(site="fixture", platform="fixture", url=f"{proxy.url}{v['url']}", media_id=v["id"])
        assert ingest_item(catalog_store, item, load_site("fixture")).state == "fetched"
    with catalog_store.session() as s:
        assert set(s.scalars(select(Clip.status))) == {"fetched"}
    report = crawl_site("fixture", query="no such words anywhere", render_js=False, timeout_s=240,
                        on_clip_stored=match_stored_clip)
    assert report.counts.get("matched_leftovers") == 2, report
    with catalog_store.session() as s:
        assert set(s.scalars(select(Clip.status))) == {"matched"}
        found = set(s.scalars(select(Detection.work_id)))
    assert {v["track_id"] for v in copies} <= found


def test_a_trickle_and_a_24_7_stream_in_a_crawl_are_cut_and_the_crawl_goes_on(hostile_home, store, home, monkeypatch):
    """A whole crawl whose listing holds a trickling download and an endless stream between ordinary
    items: both end as failed at the item time limit (their page download is bounded like their media,
    and not retried in this crawl), every other item is fetched, the crawl is ok and ends long before
    its own timeout. (Before: the item page went through Scrapy unbounded, and the endless one held
    the crawl until its timeout killed it.)"""
    import time

    from crawler.models import FrontierEntry
    from crawler.run import crawl_site
    from earwitness.kernel import settings
    site, configure = hostile_home
    monkeypatch.setenv("EARWITNESS__CRAWLER__MEDIA__ITEM_TIME_LIMIT_S", "8")   # an ordinary item takes ~1 s
    settings.configure(home)
    site.feed = ["/media/c0.wav", "/trickle/slow.wav", "/endless.wav", "/media/c1.wav", "/media/c2.wav"]
    t0 = time.monotonic()
    report = crawl_site("hostile", timeout_s=240)
    took = time.monotonic() - t0
    assert report.ok, report
    with store.session() as s:
        rows = {r.media_id: r for r in s.scalars(select(FrontierEntry))}
    for cut in ("slow.wav", "endless.wav"):
        assert rows[cut].state == "failed" and "item time limit" in rows[cut].reason, (cut, rows[cut].reason)
        assert rows[cut].attempts == 1
    assert {m for m, r in rows.items() if r.state == "fetched"} == {"c0.wav", "c1.wav", "c2.wav"}, \
        {m: (r.state, r.reason) for m, r in rows.items()}
    assert report.counts["fetched"] == 3, report.counts
    assert took < 150, took                       # nowhere near the crawl's 240 s timeout
