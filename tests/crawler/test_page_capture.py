"""Page captures as evidence, with real Chromium on 127.0.0.1 pages: the picture carries the URL and the
capture time, the network record is a WARC that reads back, and a wall is refused, not pictured."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from crawler import page_capture

PAGES = {
    "/video/v1": ("<html><head><title>Dancing cat</title><link rel=stylesheet href=/style.css></head>"
                  "<body><h1>Dancing cat</h1><p>uploaded by uploader_a</p><img src=/thumb.png></body></html>"),
    "/login": ("<html><body><h1>Welcome</h1><div class=modal>请先登录 — log in required to view this "
               "video</div></body></html>"),
    "/captcha": "<html><body><p>Slide to verify: please complete the captcha</p></body></html>",
    "/consent": ("<html><body><div class=overlay><h2>Before you continue</h2><button>Accept all cookies"
                 "</button></div></body></html>"),
}


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def site():
    thumb = _png()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/style.css":
                body, ctype = b"h1 { color: navy }", "text/css"
            elif self.path == "/thumb.png":
                body, ctype = thumb, "image/png"
            elif self.path in PAGES:
                body, ctype = PAGES[self.path].encode(), "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _warc_records(data: bytes) -> list:
    from warcio.archiveiterator import ArchiveIterator
    out = []
    for rec in ArchiveIterator(io.BytesIO(data)):
        out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"),
                    rec.http_headers.get_statuscode() if rec.http_headers else None, rec.content_stream().read()))
    return out


def test_banner_and_warc_units():
    at = datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)
    lines = page_capture.banner_lines("https://v.example/video/123?x=1", at, "Asia/Shanghai")
    assert lines == ["URL: https://v.example/video/123?x=1",
                     "Captured: 2026-03-02 09:00:05 UTC  (2026-03-02 17:00:05 +0800 Asia/Shanghai)"]
    page = _png()
    stamped = Image.open(io.BytesIO(page_capture.stamp(page, "https://v.example/video/123", at, "Asia/Shanghai")))
    assert stamped.height > 30 and stamped.width >= 40
    assert stamped.crop((0, stamped.height - 30, 40, stamped.height)).tobytes() == \
        Image.open(io.BytesIO(page)).convert("RGB").tobytes()            # the page's pixels, untouched
    ex = page_capture.Exchange("GET", "https://v.example/a", {"accept": "*/*"}, 200, "OK",
                               {"content-type": "text/html", "content-encoding": "gzip"}, b"<html>hi</html>")
    recs = _warc_records(page_capture.to_warc([ex], page_url="https://v.example/a", captured_at=at))
    assert [r[0] for r in recs] == ["warcinfo", "response", "request"]     # warcio's pair order
    assert recs[1][1:] == ("https://v.example/a", "200", b"<html>hi</html>")


@pytest.mark.parametrize("text,reason", [
    ("请先登录后观看", "login_required"), ("Please complete the CAPTCHA", "captcha"),
    ("Verify you are human", "bot_check"), ("Before you continue to Example", "consent_wall"),
    ("同意并继续", "consent_wall"), ("Dancing cat, uploaded by uploader_a", None)])
def test_walls_by_the_crawler_vocabulary(text, reason):
    wall = page_capture.wall_in(text)
    assert (wall or {}).get("reason") == reason


@pytest.mark.slow
def test_capture_with_chromium_stamps_records_and_refuses_walls(home, site):
    from crawler.browser import open_browser
    with open_browser() as browser:
        item = browser.render(f"{site}/video/v1")
        walls = {p: browser.render(f"{site}{p}") for p in ("/login", "/captcha", "/consent")}
    cap = item.capture
    assert cap.refused is None and cap.error is None and item.screenshot == cap.screenshot
    picture = Image.open(io.BytesIO(cap.screenshot))
    assert picture.width >= 1280 and picture.height > 900         # banner + the 1280x900 page
    banner = page_capture.banner_lines(f"{site}/video/v1", cap.captured_at, "Asia/Shanghai")
    assert banner[0] == f"URL: {site}/video/v1" and "UTC" in banner[1]
    top = picture.crop((0, 0, picture.width, 20)).convert("L")
    assert top.getextrema()[0] < 60 and top.getextrema()[1] > 200    # dark banner with white text
    recs = _warc_records(cap.warc)
    responses = {uri: (status, body) for kind, uri, status, body in recs if kind == "response"}
    assert responses[f"{site}/video/v1"][0] == "200" and b"Dancing cat" in responses[f"{site}/video/v1"][1]
    assert responses[f"{site}/thumb.png"][1][:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{site}/style.css" in responses and cap.exchanges == 3
    for path, page in walls.items():
        assert page.screenshot is None and page.capture.screenshot is None and page.capture.warc is None
    assert walls["/login"].capture.refused["reason"] == "login_required"
    assert walls["/captcha"].capture.refused["reason"] == "captcha"
    assert walls["/consent"].capture.refused == {"kind": "blocked", "reason": "consent_wall",
                                                 "detail": "Before you continue"}


@pytest.mark.slow
def test_async_capture_as_the_crawl_runs_it(home, site):
    """The scrapy-playwright path: the recorder attached before navigation, the capture as a page method."""
    import asyncio

    from playwright.async_api import async_playwright

    from crawler import config
    from crawler.browser import chromium_options

    async def run():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**chromium_options(config.section()))
            try:
                out = {}
                for path in ("/video/v1", "/consent"):
                    page = await browser.new_page()
                    recorder = page_capture.NetworkRecorder()
                    page.on("response", recorder.on_response)
                    await page.goto(f"{site}{path}")
                    out[path] = await page_capture.capture_async(page, recorder, zone="Asia/Shanghai")
                    await page.close()
                return out
            finally:
                await browser.close()

    caps = asyncio.run(run())
    item = caps["/video/v1"]
    assert item.refused is None and item.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and item.exchanges == 3
    assert {uri for kind, uri, _, _ in _warc_records(item.warc) if kind == "response"} == \
        {f"{site}/video/v1", f"{site}/style.css", f"{site}/thumb.png"}
    assert caps["/consent"].refused["reason"] == "consent_wall" and caps["/consent"].screenshot is None
