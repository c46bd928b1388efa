"""Real platforms' live rooms through yt-dlp's own extractors on replayed pages (no network), down to
the capture path: the extractor's chosen format is read, decoded and matched."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPLAYS = Path(__file__).parent / "replays"


@pytest.fixture
def replayed_pages(monkeypatch, platform):
    """yt-dlp answers from ``tests/live/replays`` with ``{stream_base}`` pointing at the fixture's FLV rooms."""
    import yt_dlp

    from tests.crawler.replay import Replay, handler_class
    replay = Replay()

    def add(url_regex: str, file: str, content_type: str = "text/html; charset=utf-8") -> None:
        body = (REPLAYS / file).read_text(encoding="utf-8").replace("{stream_base}", f"{platform.url}/live/flv")
        body = body.replace("{platform}", platform.url)
        replay.routes.append({"method": "GET", "url": url_regex, "status": 200,
                              "headers": {"Content-Type": content_type}, "body_bytes": body.encode()})

    rh = handler_class(replay)
    original = yt_dlp.YoutubeDL.build_request_director
    monkeypatch.setattr(yt_dlp.YoutubeDL, "build_request_director",
                        lambda self, handlers, preferences=None: original(self, [rh], preferences))
    replay.add = add
    return replay


def test_huya_room_reaches_the_capture_path_through_yt_dlps_extractor(live_store, replayed_pages):
    from crawler.live import LiveReport, resolve_room, sample_room
    from earwitness.app.matching import match_stored_clip
    replayed_pages.add(r"^https://www\.huya\.com/660000$", "huya/room.html")
    room = resolve_room("https://www.huya.com/660000", None)   # no browser: nothing may reach huya.com
    assert replayed_pages.log == [("GET", "https://www.huya.com/660000")] and not replayed_pages.unmatched
    assert room.platform == "huya" and room.protocol == "flv" and room.is_live
    assert room.title == "今晚点歌 requests all night" and room.viewers == 8812
    assert "/live/flv/room404.flv?" in room.stream and "wsSecret=" in room.stream
    assert room.headers.get("Referer") == "https://www.huya.com/"
    report = LiveReport()
    out = sample_room(live_store, room, window_s=25, evidence_s=0, report=report, on_clip_stored=match_stored_clip)
    assert out["outcome"] == "ok" and out["captured_s"] >= 24.5, out
    # room404's loop (60 s) plays demo004 and demo007 for 24 s each: 25 s always hold 10 s of one
    assert report.windows == 1 and set(report.work_ids) & {"demo004", "demo007"}, report


def test_bilibili_live_room_reaches_the_hls_capture_path_through_yt_dlps_extractor(live_store, replayed_pages):
    from crawler.live import LiveReport, resolve_room, sample_room
    from earwitness.app.matching import match_stored_clip
    replayed_pages.add(r"^https://api\.live\.bilibili\.com/room/v1/Room/get_info\?id=3$", "bilibili/get_info.json",
                       "application/json")
    replayed_pages.add(r"^https://api\.live\.bilibili\.com/xlive/web-room/v2/index/getRoomPlayInfo\?room_id=3&",
                       "bilibili/play_info.json", "application/json")
    room = resolve_room("https://live.bilibili.com/3", None)
    assert not replayed_pages.unmatched, replayed_pages.unmatched
    assert room.protocol == "hls" and room.is_live and room.title.startswith("唱见电台: 点歌请发弹幕")  # yt-dlp adds the date
    assert "/live/hls/room101/index.m3u8?expires=" in room.stream
    assert room.headers.get("Referer") == "https://live.bilibili.com/3"
    report = LiveReport()
    out = sample_room(live_store, room, window_s=25, evidence_s=0, report=report, on_clip_stored=match_stored_clip)
    assert out["outcome"] == "ok" and out["captured_s"] >= 24, out
    # room101's loop (60 s) plays demo003 (24 s) and demo008 (20 s): 25 s always hold 10 s of one
    assert report.windows == 1 and set(report.work_ids) & {"demo003", "demo008"}, report
