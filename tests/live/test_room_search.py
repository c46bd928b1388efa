"""Room discovery by search on replayed Huya, Douyu and Twitch search pages: Chromium runs each page's
own script, which asks the platform's search API; :mod:`crawler.rooms` reads the JSON the page
receives with the adapter's ``room_search`` (crawler/spiders/<platform>.py) into frontier items
(tests/live/replays/README.md says where each shape comes from). The "platform" is a local server
answering from the recordings."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.slow
REPLAYS = Path(__file__).parent / "replays"


class SearchReplay:
    """One platform's search page and API on 127.0.0.1; every API request is kept in ``api``."""

    def __init__(self, platform: str, api_file: str = "search_api.json") -> None:
        self.api: list[dict] = []
        folder = REPLAYS / platform
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if platform == "huya" and parts.path == "/" and query.get("m") == ["Search"]:
                    outer.api.append(query)
                    return self._send((folder / api_file).read_bytes())
                if platform == "douyu" and parts.path == "/japi/search/api/searchShow":
                    outer.api.append(query)
                    return self._send((folder / api_file).read_bytes())
                if parts.path.rstrip("/") == "/search":
                    return self._send((folder / "search.html").read_bytes(), "text/html; charset=utf-8")
                self.send_error(404)

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if platform == "twitch" and self.path == "/gql" \
                        and body.get("operationName") == "SearchResultsPage_SearchResults":
                    outer.api.append(body["variables"])
                    return self._send((folder / api_file).read_bytes())
                self.send_error(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def search_site(home, monkeypatch):
    """A running replay for ``platform``, the adapter's site pointed at it."""
    from earwitness.kernel import settings
    servers = []

    def start(platform: str, api_file: str = "search_api.json"):
        rep = SearchReplay(platform, api_file)
        servers.append(rep)
        monkeypatch.setenv(f"EARWITNESS__CRAWLER__SITES__{platform.upper()}__BASE_URL", rep.url)
        settings.configure(home)
        from crawler.config import load_site
        return rep, load_site(platform)
    yield start
    for s in servers:
        s.close()


def test_huya_search_page_gives_live_rooms_as_frontier_items(search_site):
    from crawler.rooms import search_rooms
    rep, site = search_site("huya")
    found, problems = search_rooms(site, ["Silver Echo Zhou Mei"], limit=20)
    assert not problems, problems
    assert rep.api and rep.api[0]["q"] == ["Silver Echo Zhou Mei"] and rep.api[0]["typ"] == ["-5"]
    assert [f.media_id for f in found] == ["660000", "661234"]
    room = found[0]
    assert room.url == f"{rep.url}/660000" and room.query == "Silver Echo Zhou Mei"
    assert room.found_on.startswith(f"{rep.url}/search?hsk=Silver%20Echo")
    assert room.listing == {"title": "今晚点歌 requests all night", "uploader": "Xiao Ming 小明",
                            "uploader_id": 1199561234567, "view_count": 8812, "category": "星秀"}
    assert found[1].listing["category"] == "音乐" and found[1].listing["view_count"] == 31020


def test_douyu_search_page_gives_live_rooms_and_skips_the_offline_one(search_site):
    from crawler.rooms import search_rooms
    rep, site = search_site("douyu")
    found, problems = search_rooms(site, ["点歌"], limit=20)
    assert not problems, problems
    assert rep.api[0]["kw"] == ["点歌"]
    assert [f.media_id for f in found] == ["9999", "71415"]          # 288016 is a loop of VODs, not live
    assert found[0].listing == {"title": "斗鱼点歌台 quick set", "uploader": "Flaky Fan", "view_count": 24000,
                                "category": "音乐"}
    assert found[1].listing["view_count"] == 126000                  # "12.6万"


def test_douyu_search_refusal_is_reported_not_an_empty_success(search_site):
    from crawler.rooms import search_rooms
    rep, site = search_site("douyu", "search_error.json")
    found, problems = search_rooms(site, ["点歌"], limit=20)
    assert found == [] and len(problems) == 1, (found, problems)
    assert problems[0].kind == "blocked" and problems[0].reason == "rate_limited", problems   # its own words
    assert "请求过于频繁" in problems[0].detail


def test_twitch_search_page_gives_live_channels_and_skips_offline_ones(search_site):
    from crawler.rooms import search_rooms
    rep, site = search_site("twitch")
    found, problems = search_rooms(site, ["chill beats"], limit=20)
    assert not problems, problems
    assert rep.api[0]["query"] == "chill beats"
    assert [f.media_id for f in found] == ["chilltv"]                 # chillhoursarchive: stream null
    assert found[0].url == f"{rep.url}/chilltv"
    assert found[0].listing == {"title": "chill beats w/ ads", "uploader": "ChillTV", "uploader_id": "731400123",
                                "view_count": 2140, "category": "Music"}


def test_catalog_queries_find_fixture_rooms_ranked_into_the_budget_and_watched(live_home, live_store, platform,
                                                                               monkeypatch):
    """The fixture platform's live search, asked with the catalog's rotating queries: rooms ranked (music
    first, then viewers), the budget watched (their windows stored and matched), the rest reported as
    rotating in; the next period asks the next queries."""
    from crawler import queries
    from crawler.rooms import plan_watch
    from crawler.watch import watch_rooms
    from earwitness.app.matching import match_stored_clip
    from earwitness.kernel import settings
    from earwitness.kernel.store.models import Clip, utcnow
    from sqlalchemy import select
    monkeypatch.setenv("EARWITNESS__CRAWLER__LIVE__WATCH__MAX_ROOMS", "2")
    monkeypatch.setenv("EARWITNESS__CRAWLER__LIVE__SEARCH__MAX_QUERIES", "4")
    settings.configure(live_home)
    first = queries.catalog_queries(live_store, site="live-fixture", max_queries=4)
    assert first[0] == "Velvet Morning Lin Qiao" and len(first) == 4
    out = watch_rooms(match_stored_clip, minutes=0.4)
    base = f"{platform.url}/live/room/"
    assert out["search"]["queries"] == {"fixture": first} and not out["search"]["problems"], out["search"]
    # demo001..004 by title and artist: rooms 808 (three of them), 101 and 808 (Signal Autumn), 404 (Silver Echo)
    assert set(out["search"]["found"]) == {base + "room808", base + "room101", base + "room404"}
    # music rooms by viewers (404: 8812, 808: 640) fill the budget of 2; room101 (no category) rotates in later
    assert list(out["rooms"]) == [base + "room404", base + "room808"] and out["over_budget"] == [base + "room101"]
    for url in out["rooms"]:
        assert out["rooms"][url]["windows"] >= 1, out["rooms"][url]
    with live_store.session() as s:
        watched = {c.extra["room_id"] for c in s.scalars(select(Clip).where(Clip.is_live.is_(True)))}
    assert watched == {"room404", "room808"}
    # the next period: the queries not asked yet, and the rooms just watched yield to the others
    nxt = plan_watch(live_store, now=utcnow())
    assert nxt["queries"]["fixture"] and not set(nxt["queries"]["fixture"]) & set(first)
