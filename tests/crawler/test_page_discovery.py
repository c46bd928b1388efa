"""Discovery inside the platform's own page (crawler/discovery.py) on a replayed Douyin search page:
Chromium runs the page's own script, which signs its API calls; the crawl reads the JSON answers
with the reader in config/sites/douyin.yaml (tests/crawler/replays/README.md says where the shapes
come from). The "platform" is a local server that checks the page's signature like Douyin would."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.slow
PAGE = Path(__file__).parent / "replays" / "douyin_page"


def a_bogus(query: str) -> str:
    """The page's obfuscated signer (_0x1d in search.html), in Python: what the server checks."""
    h = 0x1505
    for ch in query:
        h = ((h << 5) + h + ord(ch)) & 0xFFFFFFFF
    digits, out = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while True:
        h, r = divmod(h, 36)
        out = digits[r] + out
        if not h:
            return out


def _signed(q: str, param: str) -> bool:
    unsigned, _, sign = q.rpartition(f"&{param}=")
    return sign == a_bogus(unsigned)


def _serve(platform: str, state: dict):
    """The platform's search page and its API, answering from the recordings."""
    folder = Path(__file__).parent / "replays" / f"{platform}_page"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, status, body, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, cursor, signed=True):
            if not signed:
                return self._send(403, json.dumps({"status_code": 2154, "status_msg": "bad sign"}).encode())
            name = "captcha.json" if state["mode"] == "captcha" else f"api_{cursor}.json"
            self._send(200, (folder / name).read_bytes())

        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path.startswith("/search"):
                page = "search.html" if platform == "douyin" else "page.html"
                return self._send(200, (folder / page).read_bytes(), "text/html; charset=utf-8")
            if parts.path in ("/aweme/v1/web/search/item/", "/api/search/item/full/"):
                query = parse_qs(parts.query)
                state["api"].append(query)
                sign = "a_bogus" if platform == "douyin" else "X-Bogus"
                return self._answer(query["offset"][0], _signed(parts.query, sign))
            self._send(404, b"{}")

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if urlsplit(self.path).path == "/graphql" and body.get("operationName") == "visionSearchPhoto":
                state["api"].append(body["variables"])
                return self._answer(body["variables"]["pcursor"] or "first")
            self._send(404, b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def replayed_site(home, monkeypatch):
    """``replayed_site(platform)`` starts its replayed search and points the site's base_url at it."""
    servers = []

    def start(platform: str) -> dict:
        from earwitness.kernel import settings
        state = {"mode": "ok", "api": []}
        servers.append(_serve(platform, state))
        url = f"http://127.0.0.1:{servers[-1].server_address[1]}"
        monkeypatch.setenv(f"EARWITNESS__CRAWLER__SITES__{platform.upper()}__BASE_URL", url)
        settings.configure(home)
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def douyin(replayed_site):
    return replayed_site("douyin")


def _search(limit=20, name="douyin"):
    from crawler import config, discovery
    from earwitness.kernel import settings
    site = config.load_site(name)
    return site, discovery.discover_in_page(site, "velvet morning", limit=limit,
                                            profile_dir=settings.get().path("browser") / name,
                                            browser=discovery.chromium_options(config.section()))


def test_douyin_search_read_from_the_page_it_signs(douyin, store):
    from crawler.spiders import spider_for
    site, result = _search()
    assert result.answer.kind == "up", result.answer
    assert [e["id"] for e in result.entries] == ["7301234567890123401", "7301234567890123402",
                                                 "7301234567890123403"]      # the non-video card skipped
    first = result.entries[0]
    assert first["title"] == "Velvet Morning 倍速 #音乐" and first["uploader"] == "琪琪"
    assert first["uploader_id"] == "MS4wLjABAAAAkiki" and first["view_count"] == 182340
    assert first["url"] == f"{site.base_url}/video/7301234567890123401"
    assert [q["offset"][0] for q in douyin["api"]] == ["0", "10"]     # the page scrolled for the second page
    assert all(q["keyword"] == ["velvet morning"] for q in douyin["api"])
    spider = spider_for(site)(site, queries=["velvet morning"])
    found = spider.found_in(result, "velvet morning")
    assert [f.media_id for f in found] == [e["id"] for e in result.entries]
    assert found[0].listing["view_count"] == 182340 and found[0].found_on == result.url


def test_douyin_captcha_is_blocked_not_empty(douyin, store):
    douyin["mode"] = "captcha"
    _, result = _search()
    assert (result.answer.kind, result.answer.reason) == ("blocked", "api_status_2483")
    assert result.entries == []


def test_limit_stops_the_scrolling(douyin, store):
    _, result = _search(limit=2)
    assert len(result.entries) == 2 and len(douyin["api"]) == 1


@pytest.mark.parametrize("name,ids,first", [
    ("tiktok", ["7301111111111111101", "7301111111111111102", "7301111111111111103"],
     {"title": "velvet morning sped up #fyp", "uploader_id": "kiki.dance", "view_count": 182340}),
    ("kuaishou", ["3xg9avuebhtfcku", "3x5tb7ysxgzvyz4", "3xabcdefghijk12"],
     {"title": "Velvet Morning 倍速", "uploader_id": "3x4kiki", "view_count": "18.2万"}),
])
def test_tiktok_and_kuaishou_search_read_from_their_pages(replayed_site, store, name, ids, first):
    from crawler.spiders import spider_for
    state = replayed_site(name)
    site, result = _search(name=name)
    assert result.answer.kind == "up", result.answer
    assert [e["id"] for e in result.entries] == ids and len(state["api"]) == 2   # two pages, scrolled
    assert {k: result.entries[0][k] for k in first} == first
    found = spider_for(site)(site, queries=["velvet morning"]).found_in(result, "velvet morning")
    assert [f.media_id for f in found] == ids
    path = {"tiktok": "/@kiki.dance/video/", "kuaishou": "/short-video/"}[name]   # the URL the real site uses
    assert found[0].url == f"{site.base_url}{path}{ids[0]}"
    state["mode"] = "captcha"
    assert _search(name=name)[1].answer.kind == "blocked"


def test_douyin_canary_searches_in_the_page_and_says_blocked_on_the_captcha(douyin, monkeypatch, store):
    """`sites check douyin` with a canary query runs the discovery in the page (Douyin's kind is
    ``adapter`` with a ``discovery:`` block: before, its query was not run at all and counted ok)."""
    from crawler import canary
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__DOUYIN__CANARY__QUERY", "velvet morning")
    settings.configure(settings.get().home)
    row = canary.check_site("douyin")
    assert row.state == "ok" and "/search/velvet" in row.reason, row
    assert douyin["api"], "the page's own signed API call was made"
    douyin["mode"] = "captcha"
    row = canary.check_site("douyin")
    assert row.state == "blocked", row
