"""Real platforms' live rooms through yt-dlp's own extractors on replayed pages (no network), down to
the capture path: the extractor's chosen format is read, decoded and matched."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import pytest

pytestmark = pytest.mark.slow

from tests.crawler.replay import Replay

REPLAYS = Path(__file__).parent / "replays"


class LiveReplay(Replay):
    """The recordings a test adds, answered to yt-dlp's transport (``tests/crawler/replay.py``); a route
    with ``respond`` computes its body from the request (a server that checks what the client sent)."""

    def __init__(self, platform_url: str) -> None:
        super().__init__()
        self.platform_url = platform_url
        self.session = uuid.uuid4().hex     # a fresh player session on the fixture's ad-stitched rooms

    def answer(self, method, url, data=b""):
        route = super().answer(method, url, data)
        if route is not None and "respond" in route:
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
            route = {**route, "body_bytes": route["respond"](url, text).encode()}
        return route

    def text(self, file: str) -> str:
        return ((REPLAYS / file).read_text(encoding="utf-8").replace("{stream_base}", f"{self.platform_url}/live/flv")
                .replace("{platform}", self.platform_url).replace("{session}", self.session))

    def add(self, url_regex: str, file: str | None, content_type: str = "text/html; charset=utf-8", *,
            method: str = "GET", data: str = "", respond=None) -> None:
        self.routes.append({"method": method, "url": url_regex, "data": data, "status": 200,
                            "headers": {"Content-Type": content_type},
                            "body_bytes": self.text(file).encode() if file else b"",
                            **({"respond": respond} if respond else {})})


@pytest.fixture
def replayed_pages(monkeypatch, platform):
    """yt-dlp answers from ``tests/live/replays`` with ``{stream_base}``/``{platform}`` pointing at the
    fixture's rooms; nothing else is reachable."""
    import yt_dlp

    from tests.crawler.replay import handler_class
    replay = LiveReplay(platform.url)
    rh = handler_class(replay)
    original = yt_dlp.YoutubeDL.build_request_director
    monkeypatch.setattr(yt_dlp.YoutubeDL, "build_request_director",
                        lambda self, handlers, preferences=None: original(self, [rh], preferences))
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


DOUYU_RID = "9999"


def _douyu_sign_check(replay: LiveReplay, accepted: list[dict], page_v: str):
    """Douyu's ``getH5Play``: answers with the stream only when ``sign`` is the page's signing function's
    output for (room, did, tt), as Douyu's server does; otherwise its signature error."""
    def respond(url: str, body: str) -> str:
        form = {k: v[0] for k, v in parse_qs(body).items()}
        did, tt, v, sign = form.get("did", ""), form.get("tt", "0"), form.get("v", ""), form.get("sign", "")
        expected = hashlib.md5(f"{DOUYU_RID}{did}{tt}{page_v}".encode()).hexdigest()
        fresh = tt.isdigit() and abs(time.time() - int(tt)) < 120
        if v != page_v or sign != expected or not re.fullmatch(r"[0-9a-f]{32}", did) or not fresh:
            return json.dumps({"error": -5, "msg": "鉴权失败", "data": ""}, ensure_ascii=False)
        accepted.append(form)
        return replay.text("douyu/h5play.json").replace("{rate}", form.get("rate", "0")).replace("{did}", did)
    return respond


def _douyu_room_api_check(url: str, body: str) -> str:
    """``/api/v1/room/<rid>``: its ``auth`` is md5 of the query and Douyu's app key (yt-dlp computes it)."""
    query = url.split("?", 1)[1]
    params = dict(p.split("=", 1) for p in query.split("&"))
    unsigned = "&".join(f"{k}={params[k]}" for k in ("aid", "client_sys", "time"))
    auth = hashlib.md5(f"room/{DOUYU_RID}?{unsigned}zNzMV1y4EMxOHS6I5WKm".encode()).hexdigest()
    if params.get("auth") != auth:
        return json.dumps({"error": 101, "data": "auth error"})
    return (REPLAYS / "douyu/room_api.json").read_text(encoding="utf-8")


def test_douyu_room_is_signed_by_its_page_js_and_reaches_the_flv_capture_path(live_store, replayed_pages):
    """yt-dlp's DouyuTVIE runs the room page's own ``ub98484234`` with CryptoJS through ``phantomjs`` (here
    the Node.js runner, crawler/jsruntime) and posts the signature; the replayed server checks it."""
    from crawler.live import LiveReport, resolve_room, sample_room
    from earwitness.app.matching import match_stored_clip
    page_v = re.search(r'vdwdae325w_64we="(\d+)"', replayed_pages.text("douyu/room.html")).group(1)
    accepted: list[dict] = []
    replayed_pages.add(rf"^https://www\.douyu\.com/{DOUYU_RID}$", "douyu/room.html")
    replayed_pages.add(rf"^http://www\.douyutv\.com/api/v1/room/{DOUYU_RID}\?", None, "application/json",
                       respond=_douyu_room_api_check)
    replayed_pages.add(r"^https://cdnjs\.cloudflare\.com/ajax/libs/crypto-js/3\.1\.2/rollups/md5\.js$",
                       "douyu/crypto-js-md5.js", "application/javascript")
    replayed_pages.add(rf"^https://www\.douyu\.com/lapi/live/getH5Play/{DOUYU_RID}$", None, "application/json",
                       method="POST", data=r"(^|&)sign=", respond=_douyu_sign_check(replayed_pages, accepted, page_v))
    room = resolve_room(f"https://www.douyu.com/{DOUYU_RID}", None)
    assert not replayed_pages.unmatched, replayed_pages.unmatched
    assert [m for m, _ in replayed_pages.log].count("POST") == 2      # rate 0, then the other multirate (2)
    assert sorted(f["rate"] for f in accepted) == ["0", "2"], accepted   # both signatures were right
    assert room.platform == "douyu" and room.protocol == "flv" and room.is_live
    assert room.room_id == DOUYU_RID and room.streamer == "Flaky Fan"
    assert room.title.startswith("斗鱼点歌台 quick set")                 # yt-dlp adds the date
    assert "/live/flv/room404.flv?wsAuth=" in room.stream and "token=web-h5-0-9999-0" in room.stream  # 原画
    report = LiveReport()
    out = sample_room(live_store, room, window_s=25, evidence_s=0, report=report, on_clip_stored=match_stored_clip)
    assert out["outcome"] == "ok" and out["captured_s"] >= 24.5, out
    assert report.windows == 1 and set(report.work_ids) & {"demo004", "demo007"}, report


def test_douyu_room_with_a_wrong_signature_is_not_sampled(live_store, replayed_pages, monkeypatch):
    """The same room when the page's signing function is not what the server checks: no stream, an error
    (never a silent success or an 'offline' room)."""
    from crawler.errors import CrawlerError
    from crawler.live import resolve_room
    replayed_pages.add(rf"^https://www\.douyu\.com/{DOUYU_RID}$", "douyu/room.html")
    replayed_pages.add(rf"^http://www\.douyutv\.com/api/v1/room/{DOUYU_RID}\?", None, "application/json",
                       respond=_douyu_room_api_check)
    replayed_pages.add(r"^https://cdnjs\.cloudflare\.com/", "douyu/crypto-js-md5.js", "application/javascript")
    replayed_pages.add(rf"^https://www\.douyu\.com/lapi/live/getH5Play/{DOUYU_RID}$", None, "application/json",
                       method="POST", respond=_douyu_sign_check(replayed_pages, [], "220120990101"))
    with pytest.raises(CrawlerError) as err:
        resolve_room(f"https://www.douyu.com/{DOUYU_RID}", None)
    assert getattr(err.value, "kind", None) != "offline", err.value


def test_twitch_stream_reaches_the_hls_capture_path_with_its_ads_skipped(live_store, replayed_pages):
    """yt-dlp's TwitchStreamIE: the stream GraphQL batch and the playback access token (GQL POSTs), then
    usher's master playlist; its audio_only variant is the fixture's ad-stitched room (a fresh session
    starts with a pre-roll, as on Twitch), captured with the ads skipped and matched."""
    from crawler.live import LiveReport, resolve_room, sample_room
    from earwitness.app.matching import match_stored_clip
    replayed_pages.add(r"^https://gql\.twitch\.tv/gql$", "twitch/gql_stream.json", "application/json",
                       method="POST", data=r'"operationName": "StreamMetadata".*"channelLogin": "chilltv"')
    replayed_pages.add(r"^https://gql\.twitch\.tv/gql$", "twitch/access_token.json", "application/json",
                       method="POST", data=r'streamPlaybackAccessToken\(.*channelName: \\"chilltv\\"')
    replayed_pages.add(r"^https://usher\.ttvnw\.net/api/channel/hls/chilltv\.m3u8\?.*"
                       r"sig=5d1e9c2b7a3f40e8b6c1d0a9f8e7d6c5b4a39281", "twitch/usher_master.m3u8",
                       "application/vnd.apple.mpegurl")
    room = resolve_room("https://www.twitch.tv/chilltv", None)
    assert not replayed_pages.unmatched, replayed_pages.unmatched
    assert [m for m, _ in replayed_pages.log] == ["POST", "POST", "GET"], replayed_pages.log
    usher = replayed_pages.log[2][1]
    assert "allow_audio_only=true" in usher and "token=%7B%22adblock%22" in usher
    assert room.platform == "twitch" and room.protocol == "hls" and room.is_live
    assert room.title.startswith("ChillTV (live)") and room.streamer == "ChillTV" and room.viewers == 2140
    assert room.stream.endswith(f"/live/ads/room505/index.m3u8?token={replayed_pages.session}-audio"), room.stream
    report = LiveReport()
    out = sample_room(live_store, room, window_s=25, evidence_s=0, report=report, on_clip_stored=match_stored_clip)
    assert out["outcome"] == "ok" and out["captured_s"] >= 20, out
    assert out["ads_skipped_s"] >= 4, out                   # the fresh session's pre-roll
    # room505's loop (60 s): demo005 0-24 s, a mid-roll (demo010's audio) 24-30 s, demo009 30-60 s
    assert report.windows == 1 and set(report.work_ids) & {"demo005", "demo009"}, report
    assert "demo010" not in report.work_ids, report          # the ad's song is never "detected"
