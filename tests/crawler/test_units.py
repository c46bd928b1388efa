"""Fast tests: site configuration, parsing helpers, item-page parsing on a recorded page, the frontier."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

RECORDED = Path(__file__).parent / "recorded"


def test_fixture_site_loads_with_override(home, monkeypatch):
    from crawler import config
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL", "http://127.0.0.1:9/")
    settings.configure(home)
    site = config.load_site("fixture")
    assert site.base_url == "http://127.0.0.1:9"
    assert site.url(site.get("search_url"), query="a b/c") == "http://127.0.0.1:9/shorts/search?q=a%20b%2Fc"
    assert site.get("render_js") is True


def test_bad_site_yaml_is_a_clear_error(home):
    from crawler import config
    from crawler.errors import SiteConfigError
    (home / "sites").mkdir()
    (home / "sites" / "broken.yaml").write_text("name: [unclosed\n")
    (home / "sites" / "partial.yaml").write_text("base_url: http://x\n")
    with pytest.raises(SiteConfigError, match="not valid YAML"):
        config.load_site("broken")
    with pytest.raises(SiteConfigError, match="missing key 'video'"):
        config.load_site("partial")
    with pytest.raises(SiteConfigError, match="bad site name"):
        config.load_site("../etc")


def test_unknown_site_names_the_choices(home):
    from crawler.errors import SiteConfigError
    from crawler.spiders import spider_for
    with pytest.raises(SiteConfigError, match="unknown site 'nosuch'"):
        spider_for("nosuch")


def test_licensed_allowlist(home):
    from crawler import config
    assert config.is_licensed("fixture", "demorecords.official", None)
    assert not config.is_licensed("fixture", "kiki.dance", "Kiki")
    assert not config.is_licensed("tiktok", "demorecords.official", None)


@pytest.mark.parametrize("raw,expected", [(1234, 1234), ("12,345 views", 12345), ("1.2K", 1200),
                                          ("3.4万", 34000), ("", None), ("no digits", None)])
def test_parse_count(raw, expected):
    from crawler.media import parse_count
    assert parse_count(raw) == expected


def test_parse_time_is_aware_utc():
    from crawler.media import parse_time
    assert parse_time("2026-11-02T08:15:00Z").isoformat() == "2026-11-02T08:15:00+00:00"
    assert parse_time("20261102").isoformat() == "2026-11-02T00:00:00+00:00"
    assert parse_time(0).isoformat() == "1970-01-01T00:00:00+00:00"
    assert parse_time("yesterday") is None


def test_retry_after_header():
    from crawler.media import retry_after_s
    assert retry_after_s({"Retry-After": "7"}, 1.0) == 7.0
    assert retry_after_s({}, 1.5) == 1.5
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 3.0) == 0.0


def _spider(home):
    from crawler.spiders.configurable import ConfigurableSiteSpider
    return ConfigurableSiteSpider(site="fixture", queries=[""], limit=5)


def test_video_page_parsed_from_recording(store):
    """Fields of a video page recorded from the fixture platform (tests/crawler/recorded/)."""
    from crawler.frontier import Found
    body = (RECORDED / "fixture_video_k7Qm2xLp01.html").read_bytes()
    url = "http://127.0.0.1:8765/shorts/video/k7Qm2xLp01"
    item = _spider(store).parse_item(HtmlResponse(url, body=body, encoding="utf-8"), Found("k7Qm2xLp01", url))
    assert item.title == "Velvet Morning - Lin Qiao (sped up)"
    assert item.uploader_id == "kiki.dance" and item.uploader == "Kiki 🌸"
    assert item.published_at == "2026-11-20T18:02:11Z"
    assert item.view_count == 182340
    assert item.duration_s == 20.0   # from the page's JSON-LD VideoObject


@pytest.mark.parametrize("raw,expected", [("PT20S", 20.0), ("PT1M2.5S", 62.5), ("1:02:03", 3723.0),
                                          ("20", 20.0), ("", None), ("soon", None)])
def test_parse_duration(raw, expected):
    from crawler.spiders.configurable import parse_duration
    assert parse_duration(raw) == expected


def test_changed_layout_names_site_and_selector(store):
    from crawler.errors import LayoutChanged
    from crawler.frontier import Found
    body = (RECORDED / "fixture_video_k7Qm2xLp01.html").read_bytes().replace(b'class="title"', b'class="headline"')
    url = "http://127.0.0.1:8765/shorts/video/k7Qm2xLp01"
    with pytest.raises(LayoutChanged) as err:
        _spider(store).parse_item(HtmlResponse(url, body=body, encoding="utf-8"), Found("k7Qm2xLp01", url))
    assert "'fixture'" in str(err.value) and "h1.title::text" in str(err.value)


def test_unrendered_search_page_has_no_results(store):
    """The search page as plain HTTP sees it: a results container and no result links."""
    spider = _spider(store)
    url = "http://127.0.0.1:8765/shorts/search?q=velvet"
    body = (RECORDED / "fixture_search_shell.html").read_bytes()
    resp = HtmlResponse(url, body=body, encoding="utf-8", request=spider.listing_request(url, "velvet"))
    assert list(spider.parse_listing(resp)) == []
    assert spider.stats_counter["empty_listings"] == 1 and spider.stats_counter["layout_changed"] == 0
    gone = HtmlResponse(url, body=body.replace(b'id="results"', b'id="hits"'), encoding="utf-8",
                        request=spider.listing_request(url, "velvet"))
    assert list(spider.parse_listing(gone)) == []
    assert spider.stats_counter["layout_changed"] == 1
    assert "#results" in spider.errors[-1]


def test_frontier_records_once_and_resumes(store):
    from crawler import frontier
    found = [frontier.Found("a", "http://x/a"), frontier.Found("b", "http://x/b"), frontier.Found("a", "http://x/a")]
    assert [f.media_id for f in frontier.record(store, "s", "p", found)] == ["a", "b"]
    frontier.mark(store, "p", "a", "fetched")
    frontier.mark(store, "p", "b", "failed", attempts=1)
    assert [f.media_id for f in frontier.record(store, "s", "p", found, max_attempts=3)] == ["b"]
    assert [f.media_id for f in frontier.pending(store, "s", max_attempts=3)] == ["b"]
    frontier.mark(store, "p", "b", "failed", attempts=3)
    assert frontier.pending(store, "s", max_attempts=3) == []
    assert frontier.counts(store, "s") == {"fetched": 1, "failed": 1}


@pytest.mark.parametrize("exc,reason", [
    ("ExtractorError('This video is private', expected=True)", "private"),
    ("ExtractorError('This video has been removed by the uploader', expected=True)", "platform_removed"),
    ("GeoRestrictedError('The uploader has not made this video available in your country')", "geo_blocked"),
    ("UserNotLive(video_id='x')", "not_live"),
])
def test_expected_failures_are_classified_as_gone(exc, reason):
    """yt-dlp's own exception types (as its extractors raise them) map to 'gone' reasons."""
    from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UserNotLive  # noqa: F401
    from crawler.errors import ContentGone
    from crawler.media import classify
    inner = eval(exc)
    out = classify(DownloadError(f"ERROR: {inner}", exc_info=(type(inner), inner, None)), "http://x/v")
    assert isinstance(out, ContentGone) and out.reason == reason


def test_unexpected_failures_are_not_gone():
    from yt_dlp.utils import DownloadError, ExtractorError
    from crawler.errors import FetchFailed
    from crawler.media import classify
    inner = ExtractorError("Unable to extract data; please report this issue")
    assert isinstance(classify(DownloadError(str(inner), exc_info=(type(inner), inner, None)), "u"), FetchFailed)


def test_catalog_queries(store, monkeypatch, home):
    from crawler.queries import catalog_queries
    from earwitness.kernel import settings
    from earwitness.kernel.store.models import Work
    monkeypatch.setenv("EARWITNESS__CRAWLER__QUERIES__KEYWORDS", "[sped up, nightcore]")
    settings.configure(home)
    with store.session() as s:
        s.add(Work(id="w1", title="Velvet Morning", artist="Lin Qiao", aliases=["velvet morning (remix)"]))
        s.add(Work(id="w2", title="Neon River", artist=None, aliases=[]))
    assert catalog_queries(store) == ["sped up", "nightcore", "Velvet Morning Lin Qiao", "Neon River",
                                      "Velvet Morning", "velvet morning (remix)"]   # keywords first


def test_queries_rotate_through_the_whole_catalog_and_report_coverage(store, monkeypatch, home):
    """120 works, 10 queries a crawl (the keyword and 9 others): all 360 queries of the catalog
    ("title artist", title, alias of each work) run within 40 crawls, the oldest first after that;
    coverage counts the works searched lately."""
    from datetime import datetime, timedelta, timezone

    from crawler.queries import catalog_queries, coverage, record_run
    from earwitness.kernel import settings
    from earwitness.kernel.store.models import Work
    monkeypatch.setenv("EARWITNESS__CRAWLER__QUERIES__KEYWORDS", "[sped up]")
    settings.configure(home)
    with store.session() as s:
        for i in range(120):
            s.add(Work(id=f"w{i:03d}", title=f"Song {i}", artist=f"Artist {i}", aliases=[f"song {i} remix"]))
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    seen: set[str] = set()
    for n in range(40):
        qs = catalog_queries(store, site="s", max_queries=10)
        assert qs[0] == "sped up" and len(qs) == 10
        seen |= set(qs[1:])
        record_run("s", qs, now=t0 + timedelta(hours=n))
    assert len(seen) == 360                           # every query of every work ran
    assert catalog_queries(store, site="s", max_queries=3)[1:] == ["Song 0 Artist 0", "Song 1 Artist 1"]
    assert catalog_queries(store, site="other", max_queries=2) == ["sped up", "Song 0 Artist 0"]  # per site
    cov = coverage(store, "s", days=7, now=t0 + timedelta(hours=40))
    assert cov == {"works": 120, "searched": 120, "days": 7, "share": 1.0}
    late = coverage(store, "s", days=0.5, now=t0 + timedelta(hours=40))   # the last 12 crawls' queries:
    assert late == {"works": 120, "searched": 54, "days": 0.5, "share": 0.45}  # titles+aliases of works 66-119


def test_detections_list_json(store, home):
    import json

    from click.testing import CliRunner

    from earwitness.app.cli import main
    from earwitness.kernel.store.models import Clip, Detection, Work
    with store.session() as s:
        s.add(Work(id="demo001", title="Velvet Morning", artist="Lin Qiao"))
        clip = Clip(platform="fixture", url="http://x/v/1", media_id="1", audio_sha256="a" * 64)
        s.add(clip)
        s.flush()
        s.add(Detection(clip_id=clip.id, work_id="demo001", clip_offset_s=1.0, ref_offset_s=6.5, duration_s=15.0,
                        score=88.0, pitch_semitones=2.0, tempo_ratio=1.12, matcher_version="t"))
    res = CliRunner().invoke(main, ["--home", str(home), "detections", "list", "--json"])
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.stdout)
    assert (row["work_id"], row["clip_url"], row["platform"], row["ref_offset_s"], row["tempo_ratio"],
            row["pitch_semitones"], row["status"]) == ("demo001", "http://x/v/1", "fixture", 6.5, 1.12, 2.0, "pending")
    text = CliRunner().invoke(main, ["--home", str(home), "detections", "list"])
    header, line = text.stdout.splitlines()
    assert header.split()[:3] == ["ID", "WORK", "PLATFORM"] and "TEMPO" in header
    assert line.startswith(row["detection_id"]) and "Velvet Morning — Lin Qiao" in line and "x1.12" in line
    assert "1 detections" in text.stderr


def test_crawl_command_rejects_unknown_site(home):
    from click.testing import CliRunner

    from earwitness.app.cli import main
    res = CliRunner().invoke(main, ["--home", str(home), "crawl", "nosuch"])
    assert res.exit_code != 0 and "unknown site 'nosuch'" in res.output


def test_scrapy_settings_per_site(home, monkeypatch):
    """User agent, robots policy, proxy and throttling per site; Chromium as the pitfalls require."""
    from crawler.config import load_site
    from crawler.media import ydl_options
    from crawler.settings import scrapy_settings
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__USER_AGENT", "TestBot/1")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__OBEY_ROBOTS", "false")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__PROXY", "http://127.0.0.1:3128")
    settings.configure(home)
    site = load_site("fixture")
    st = scrapy_settings(site)
    assert st["USER_AGENT"] == "TestBot/1" and st["ROBOTSTXT_OBEY"] is False
    assert st["EARWITNESS_PROXY"] == "http://127.0.0.1:3128"
    assert st["TELNETCONSOLE_ENABLED"] is False and st["AUTOTHROTTLE_ENABLED"] is True
    launch = st["PLAYWRIGHT_LAUNCH_OPTIONS"]
    assert launch["executable_path"] == "/usr/bin/chromium" and "--no-sandbox" in launch["args"]
    assert launch["proxy"] == {"server": "http://127.0.0.1:3128"}
    opts = ydl_options(site)
    assert opts["proxy"] == "http://127.0.0.1:3128" and opts["http_headers"]["User-Agent"] == "TestBot/1"
    assert opts["format"] == "bestaudio/best"
    other = scrapy_settings(load_site("bilibili"))
    assert other["ROBOTSTXT_OBEY"] is True and "EarwitnessBot" in other["USER_AGENT"]
