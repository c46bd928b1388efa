"""The failure taxonomy (crawler.outcomes): yt-dlp's real errors and real HTTP answers, classified.

The messages are the ones yt-dlp 2026.10.26's extractors raise (YouTube's bot check, rate
limit and age gate among them); the HTTP cases go through yt-dlp's real networking
against a misbehaving server on 127.0.0.1 (tests/crawler/hostile.py).
"""

from __future__ import annotations

import time

import pytest

from tests.crawler.hostile import HostileSite

LOGIN_HINT = ("Use --cookies-from-browser or --cookies for the authentication. See  "
              "https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually "
              "pass cookies. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  "
              "for tips on effectively exporting YouTube cookies")


@pytest.mark.parametrize("message,kind,reason", [
    # YouTube's playability answers as yt-dlp words them (youtube/_video.py)
    (f"Sign in to confirm you\u2019re not a bot. {LOGIN_HINT}", "blocked", "bot_check"),
    ("This content isn't available, try again later. The current session has been rate-limited by YouTube "
     "for up to an hour. It is recommended to use `-t sleep` to add a delay between video requests",
     "blocked", "rate_limited"),
    (f"Sign in to confirm your age. This video may be inappropriate for some users. {LOGIN_HINT}",
     "needs_login", "age_gate"),
    ("Video unavailable. YouTube is requiring a captcha challenge before playback", "blocked", "captcha"),
    (f"Private video. Sign in if you've been granted access to this video. {LOGIN_HINT}", "private", "private"),
    (f"This video is only available for registered users. {LOGIN_HINT}", "needs_login", "login_required"),
    ("Video unavailable. This video has been removed by the uploader", "gone", "platform_removed"),
    ("Video unavailable. This video is no longer available because the YouTube account associated with "
     "this video has been terminated.", "gone", "platform_removed"),
    ("该视频不存在或已被删除", "gone", "platform_removed"),
    ("请求过于频繁，请稍后再试", "blocked", "rate_limited"),
])
def test_platform_words_are_classified(message, kind, reason):
    from yt_dlp.utils import DownloadError, ExtractorError
    from crawler import outcomes
    inner = ExtractorError(message, expected=True)
    answer = outcomes.from_ytdlp(DownloadError(f"ERROR: {message}", exc_info=(type(inner), inner, None)))
    assert (answer.kind, answer.reason) == (kind, reason)


def test_walls_never_become_gone_exceptions():
    """Through media.classify: the bot check is a Refused wall, never ContentGone."""
    from yt_dlp.utils import DownloadError, ExtractorError
    from crawler.errors import ContentGone, Refused
    from crawler.media import classify
    inner = ExtractorError(f"Sign in to confirm you're not a bot. {LOGIN_HINT}", expected=True)
    err = classify(DownloadError(str(inner), exc_info=(type(inner), inner, None)), "https://y/watch?v=x")
    assert isinstance(err, Refused) and not isinstance(err, ContentGone)
    assert (err.kind, err.reason) == ("blocked", "bot_check")


def test_unexpected_extractor_words_are_broken_not_gone():
    """'unavailable' inside an extractor bug report is a broken extractor, not a removal."""
    from yt_dlp.utils import DownloadError, ExtractorError
    from crawler.errors import FetchFailed
    from crawler.media import classify
    inner = ExtractorError("Unable to extract video data: player unavailable; please report this issue")
    err = classify(DownloadError(str(inner), exc_info=(type(inner), inner, None)), "u")
    assert isinstance(err, FetchFailed) and (err.kind, err.reason) == ("broken", "extractor_error")


@pytest.mark.parametrize("status,page,kind", [
    (200, b"<html><head><title>Neon River</title><script src='/recaptcha.js'></script></head><body>ok</body>",
     "up"),
    (200, b"<html><head><title>Security check</title></head><body>Please verify you are human</body></html>",
     "blocked"),
    (200, b"<html><title>Log in</title><body>Please log in first to continue</body></html>", "needs_login"),
    (403, b"<html><title>403</title><body>Forbidden</body></html>", "blocked"),
    (403, b"<html><body>This video is not available in your country</body></html>", "geo_blocked"),
    (401, b"", "needs_login"),
    (404, b"", "gone"),
    (410, b"", "gone"),
    (429, b"", "blocked"),
    (503, b"", "transient"),
    (302, b"", "broken"),
])
def test_http_answers(status, page, kind):
    from crawler import outcomes
    assert outcomes.from_page(status, page).kind == kind


@pytest.fixture
def hostile(home, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__BACKOFF_BASE_S", "0.05")
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__MAX_BACKOFF_S", "2")
    settings.configure(home)
    site = HostileSite()
    yield site
    site.close()


def test_long_retry_after_is_a_wall_not_six_waits(hostile):
    """429 with Retry-After: 3600 ends at once as blocked (carrying the delay), one request only."""
    from crawler import media
    from crawler.errors import Refused
    t0 = time.monotonic()
    with pytest.raises(Refused) as err:
        media.extract(f"{hostile.url}/status/429")
    assert (err.value.kind, err.value.reason, err.value.retry_after_s) == ("blocked", "rate_limited", 3600.0)
    assert hostile.hits["/status/429"] == 1 and time.monotonic() - t0 < 10


def test_redirect_loop_is_an_error(hostile, store):
    from crawler.errors import FetchFailed
    from crawler import media
    with pytest.raises(FetchFailed) as err:
        media.extract(f"{hostile.url}/loop")
    assert (err.value.kind, err.value.reason) == ("broken", "redirect_loop")


def _item(url, media_id):
    from crawler.items import VideoItem
    return VideoItem(site="hostile", platform="hostile", url=url, media_id=media_id)


def _site():
    from crawler.config import SiteConfig
    return SiteConfig(name="hostile", platform="hostile", raw={"name": "hostile"})


def test_html_served_as_video_is_not_audio(hostile, store):
    from crawler.ingest import ingest_item
    out = ingest_item(store, _item(f"{hostile.url}/page-as-video", "page"), _site())
    assert (out.state, out.reason) == ("rejected", "not_audio")
    wall = ingest_item(store, _item(f"{hostile.url}/wall-as-video", "wall"), _site())
    assert (wall.state, wall.kind) == ("failed", "blocked")   # a wall, retried later: not "rejected"


def test_every_failure_counts_an_attempt(hostile, store):
    """A 503 page fails, counts an attempt each time, and stops being retried at max_attempts."""
    from crawler import frontier
    from crawler.ingest import ingest_item
    from crawler.models import FrontierEntry
    frontier.record(store, "hostile", "hostile", [frontier.Found("e503", f"{hostile.url}/status/503")])
    for _ in range(3):
        out = ingest_item(store, _item(f"{hostile.url}/status/503", "e503"), _site(), max_attempts=3)
        assert (out.state, out.kind) == ("failed", "transient")
    assert frontier.pending(store, "hostile", max_attempts=3) == []
    with store.session() as s:
        assert s.query(FrontierEntry).one().attempts == 3
    assert ingest_item(store, _item(f"{hostile.url}/status/503", "e503"), _site(), max_attempts=3).state == "failed"
    with store.session() as s:
        assert s.query(FrontierEntry).one().attempts == 3     # not tried a fourth time


@pytest.mark.parametrize("path", ["/trickle/slow.wav", "/endless.wav"])
def test_trickle_and_endless_stream_are_cut_at_the_item_limit(hostile, store, home, monkeypatch, path):
    """A trickling file (~10 s at its pace) and a 24/7 stream are cut at the 3 s item limit,
    and the next item is fetched as usual (the worker is free again)."""
    from crawler.ingest import ingest_item
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__MEDIA__ITEM_TIME_LIMIT_S", "3")
    settings.configure(home)
    t0 = time.monotonic()
    cut = ingest_item(store, _item(f"{hostile.url}{path}", "slow"), _site())
    took = time.monotonic() - t0
    assert (cut.state, cut.kind) == ("failed", "transient") and "item time limit" in cut.reason
    assert took < 3 + 6, took                     # the limit, plus one block's wait at most
    assert not list((home / "media" / "incoming").glob("*/*")), "the cut download's file is left behind"
    ok = ingest_item(store, _item(f"{hostile.url}/media/next.wav", "next"), _site())
    assert ok.state == "fetched", ok


def test_probe_says_blocked_for_a_bot_wall_and_keeps_the_page(hostile, store, home):
    from crawler.recheck import probe
    r = probe(f"{hostile.url}/botwall", "hostile")
    assert (r.outcome, r.gone) == ("blocked", False)
    assert (home / r.page_path).read_bytes().startswith(b"<!doctype html>")
    gone = probe(f"{hostile.url}/removed", "hostile")
    assert (gone.outcome, gone.gone, gone.reason, gone.http_status) == ("gone", True, "http_410", 410)
    assert b"has been removed" in (home / gone.page_path).read_bytes()
