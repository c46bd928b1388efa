"""The capture path speaks with the site's identity (proxy, cookies, user agent) on every request,
never reads an endless body whole, and takes a direct stream URL from the command line."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.slow

UA = "EarwitnessLiveTest/1.0 (+identity check)"


@pytest.fixture
def identity_home(live_home, monkeypatch, forward_proxy, tmp_path):
    from earwitness.kernel import settings
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n"
                       "127.0.0.1\tFALSE\t/\tFALSE\t2147483647\tsession\tkept-login-42\n")
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__PROXY", forward_proxy.url)
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__COOKIES_FILE", str(cookies))
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__USER_AGENT", UA)
    settings.configure(live_home)
    return live_home


def test_every_capture_request_carries_the_sites_proxy_cookies_and_user_agent(identity_home, store, platform,
                                                                                forward_proxy):
    from crawler import config
    from crawler.browser import open_browser
    from crawler.live import LiveReport, resolve_room, sample_room, stream_http
    from crawler.live_store import page_at_hit
    rooms = []
    with open_browser() as browser:
        for room_id in ("room404", "room505"):
            rooms.append(resolve_room(f"{platform.url}/live/room/{room_id}", browser))
    report = LiveReport()
    for room in rooms:
        out = sample_room(store, room, window_s=4, evidence_s=0, report=report, on_clip_stored=lambda s, c: [])
        assert out["outcome"] == "ok" and out["captured_s"] >= 3.5, out
    page = page_at_hit(rooms[0], stream_http(config.load_site("fixture")))
    assert page["title"] == rooms[0].title and page["viewers"] == 8812
    seen = forward_proxy.requests
    paths = [r["url"].split("?")[0].split("/", 3)[-1] for r in seen]
    assert any(p.startswith("live/flv/room404.flv") for p in paths), paths
    assert sum(p.endswith("room505/index.m3u8") for p in paths) >= 2, "the playlist is polled"
    assert any(p.startswith("live/ads/room505/seg") for p in paths), "segments are fetched through the proxy"
    assert any(p == "live/room/room404" for p in paths), "the room page at the hit too"
    for r in seen:
        assert r["user_agent"] == UA and "session=kept-login-42" in (r["cookie"] or ""), r


def test_newest_segment_time_gives_up_on_an_endless_body(live_home, platform):
    from crawler.capture import StreamHttp, newest_segment_time
    http_ = StreamHttp()
    t0 = time.monotonic()
    assert newest_segment_time(f"{platform.url}/live/flv/room404.flv", http_) is None
    assert time.monotonic() - t0 < 5, "an FLV body is not a playlist: given up on at once"
    when = newest_segment_time(f"{platform.url}/live/hls/room101/index.m3u8", http_)
    assert when is not None and abs((datetime.now(timezone.utc) - when).total_seconds()) < 30


def test_live_sample_takes_a_direct_flv_url(live_store, platform):
    from click.testing import CliRunner

    from earwitness.app.cli import main
    url = f"{platform.url}/live/flv/room404.flv"
    out = CliRunner().invoke(main, ["live", "sample", "--room", url, "--window", "5", "--evidence", "0", "--json"])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.output[out.output.index("{"):])
    assert rep["windows"] == 1 and rep["outcomes"][0]["protocol"] == "flv" and rep["outcomes"][0]["outcome"] == "ok"
