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


@pytest.fixture
def douyin(home, monkeypatch):
    state = {"mode": "ok", "api": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, status, body, ctype):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path.startswith("/search/"):
                return self._send(200, (PAGE / "search.html").read_bytes(), "text/html; charset=utf-8")
            if parts.path == "/aweme/v1/web/search/item/":
                q = parts.query
                unsigned, _, sign = q.rpartition("&a_bogus=")
                state["api"].append(parse_qs(q))
                if sign != a_bogus(unsigned):
                    return self._send(403, json.dumps({"status_code": 2154, "status_msg": "bad sign"}).encode(),
                                      "application/json")
                if state["mode"] == "captcha":
                    return self._send(200, (PAGE / "captcha.json").read_bytes(), "application/json")
                offset = parse_qs(q)["offset"][0]
                return self._send(200, (PAGE / f"search_item_{offset}.json").read_bytes(), "application/json")
            self._send(404, b"{}", "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__DOUYIN__BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    settings.configure(home)
    yield state
    server.shutdown()
    server.server_close()


def _search(limit=20):
    from crawler import config, discovery
    from earwitness.kernel import settings
    site = config.load_site("douyin")
    return site, discovery.discover_in_page(site, "velvet morning", limit=limit,
                                            profile_dir=settings.get().path("browser") / "douyin",
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
