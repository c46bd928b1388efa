"""A page capture that can stand as evidence: the picture says what and when, the network says how.

One capture of a rendered page gives:

- the **screenshot with a banner composed into the image** above the page: the
  URL the browser was on and the capture time in UTC and in the team's zone
  (composed with Pillow, outside the page: the page's own pixels and HTML are
  untouched);
- the page's **network record as a WARC** (warcio): a ``warcinfo`` record, then
  a ``request`` and a ``response`` record (HTTP headers and body) for every
  response the page received while loading, in order. Media responses are
  aborted by the crawler (the media file is kept as the original download), so
  none is here;
- or a **refusal**: when the rendered page shows a login, captcha, bot or consent
  wall (the :mod:`crawler.outcomes` vocabulary, plus consent walls, which only
  matter to a picture), no picture is kept: a wall is not the item's page, and
  a picture of it must not stand in for one. The refusal (kind, reason, the
  words found) is recorded instead.

Both Playwright APIs are served: :func:`capture_async` (scrapy-playwright page
methods) and :func:`capture_sync` (:mod:`crawler.browser`); a
:class:`NetworkRecorder` is attached to the page before it navigates.
"""

from __future__ import annotations

import asyncio
import io
import re
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from crawler import outcomes

BANNER_FONT_PX = 16
BANNER_WRAP = 150          # characters per banner line before a long URL wraps
VISIBLE_TEXT_LIMIT = 4000  # characters of visible text read for walls: what crawler.outcomes.page_text reads

# Consent walls: a page that asks to accept cookies or terms before showing anything. Not a
# crawl failure (the HTML may hold the item), but a picture of one is not a picture of the item.
CONSENT = re.compile(r"before you continue|accept all cookies|consent to (the use of )?cookies|"
                     r"(agree|consent) (to|and) continue|cookie consent|同意并继续|同意后继续|"
                     r"请(先)?同意.{0,12}(隐私|协议|条款)", re.I)


@dataclass(frozen=True)
class Exchange:
    """One response the page received, with the request that asked for it."""

    method: str
    url: str
    request_headers: dict[str, str]
    status: int
    status_text: str
    response_headers: dict[str, str]
    body: bytes | None          # None: not readable (a redirect, or the response was aborted)


@dataclass
class PageCapture:
    """What one capture produced; exactly one of ``screenshot`` and ``refused`` is set."""

    url: str
    captured_at: datetime
    screenshot: bytes | None = None     # the stamped PNG
    warc: bytes | None = None           # gzipped WARC of the page's network
    refused: dict[str, str] | None = None   # {"kind", "reason", "detail"} when the page was a wall
    error: str | None = None            # the browser could not take the picture
    exchanges: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class NetworkRecorder:
    """Collects the page's responses as they arrive (attach ``on_response`` before navigating)."""

    def __init__(self) -> None:
        self.responses: list[Any] = []

    def on_response(self, response) -> None:
        self.responses.append(response)

    async def exchanges_async(self) -> list[Exchange]:
        out = []
        for r in self.responses:
            try:
                body = await r.body()
            except Exception:   # redirects and aborted responses have no body
                body = None
            out.append(_exchange(r, body))
        return out

    def exchanges_sync(self) -> list[Exchange]:
        out = []
        for r in self.responses:
            try:
                body = r.body()
            except Exception:
                body = None
            out.append(_exchange(r, body))
        return out


def _exchange(response, body: bytes | None) -> Exchange:
    req = response.request
    return Exchange(method=req.method, url=response.url, request_headers=dict(req.headers),
                    status=response.status, status_text=response.status_text or "",
                    response_headers=dict(response.headers), body=body)


def wall_in(text: str) -> dict[str, str] | None:
    """The wall a page's visible text shows (login, captcha, bot check, consent), else None."""
    found = outcomes.from_text(text, kinds=outcomes.WALLS)
    if found is not None:
        kind, reason = found
        return {"kind": kind, "reason": reason, "detail": _snippet(text, outcomes.TEXT_RULES, reason)}
    m = CONSENT.search(text)
    if m:
        return {"kind": "blocked", "reason": "consent_wall", "detail": m.group(0)}
    return None


def _snippet(text: str, rules, reason: str) -> str:
    for _kind, r, pattern in rules:
        if r == reason:
            m = pattern.search(text)
            if m:
                return m.group(0)
    return ""


def banner_lines(url: str, at: datetime, zone: str) -> list[str]:
    """The banner's text: the URL (wrapped) and the capture time in UTC and in ``zone``."""
    utc = at.astimezone(timezone.utc)
    local = at.astimezone(ZoneInfo(zone))
    lines = textwrap.wrap(f"URL: {url}", BANNER_WRAP, break_long_words=True, break_on_hyphens=False) or ["URL:"]
    lines.append(f"Captured: {utc.strftime('%Y-%m-%d %H:%M:%S')} UTC  "
                 f"({local.strftime('%Y-%m-%d %H:%M:%S %z')} {zone})")
    return lines


def stamp(png: bytes, url: str, at: datetime, zone: str) -> bytes:
    """The screenshot with a banner composed above it (a new PNG; the page's pixels are kept as they were)."""
    from PIL import Image, ImageDraw, ImageFont
    page = Image.open(io.BytesIO(png)).convert("RGB")
    font = ImageFont.load_default(size=BANNER_FONT_PX)
    lines = banner_lines(url, at, zone)
    line_h = BANNER_FONT_PX + 6
    height = line_h * len(lines) + 12
    width = max(page.width, max(int(font.getlength(line)) for line in lines) + 20)
    out = Image.new("RGB", (width, height + page.height), "white")
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, width, height - 1], fill=(20, 20, 20))
    for i, line in enumerate(lines):
        draw.text((10, 6 + i * line_h), line, fill=(255, 255, 255), font=font)
    out.paste(page, (0, height))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


SOFTWARE = "Earwitness crawler page capture (Chromium via Playwright, warcio)"


def to_warc(exchanges: list[Exchange], *, page_url: str, captured_at: datetime) -> bytes:
    """A gzipped WARC/1.1 of the exchanges, led by a ``warcinfo`` record naming the page and time."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="1.1")
    when = captured_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    writer.write_record(writer.create_warcinfo_record("page-capture.warc.gz", {
        "software": SOFTWARE, "format": "WARC File Format 1.1", "page-url": page_url,
        "capture-time-utc": when, "exchanges": str(len(exchanges))}))
    for ex in exchanges:
        headers = {"WARC-Date": when}
        path = ex.url
        req_line = f"{ex.method} {path} HTTP/1.1"
        req = writer.create_warc_record(ex.url, "request", warc_headers_dict=headers,
                                        http_headers=StatusAndHeaders(req_line, list(ex.request_headers.items()),
                                                                      is_http_request=True),
                                        payload=io.BytesIO(b""))
        body = ex.body if ex.body is not None else b""
        resp_headers = [(k, v) for k, v in ex.response_headers.items()    # bodies are kept decoded
                        if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")]
        resp_headers.append(("Content-Length", str(len(body))))
        resp_warc = dict(headers)
        if ex.body is None:
            resp_warc["WARC-Truncated"] = "unspecified"
        resp = writer.create_warc_record(ex.url, "response", warc_headers_dict=resp_warc,
                                         http_headers=StatusAndHeaders(f"{ex.status} {ex.status_text}".strip(),
                                                                       resp_headers, protocol="HTTP/1.1"),
                                         payload=io.BytesIO(body))
        writer.write_request_response_pair(req, resp)
    return buf.getvalue()


def _finish(url: str, at: datetime, png: bytes | None, exchanges: list[Exchange], *, zone: str,
            error: str | None) -> PageCapture:
    cap = PageCapture(url=url, captured_at=at, exchanges=len(exchanges), error=error)
    cap.warc = to_warc(exchanges, page_url=url, captured_at=at)
    if png is not None:
        cap.screenshot = stamp(png, url, at, zone)
    return cap


def _refusal(url: str, at: datetime, visible_text: str) -> PageCapture | None:
    wall = wall_in(" ".join(visible_text.split())[:VISIBLE_TEXT_LIMIT])
    return PageCapture(url=url, captured_at=at, refused=wall) if wall is not None else None


async def capture_async(page, recorder: NetworkRecorder, *, zone: str,
                        full_page: bool = True, attempts: int = 2) -> PageCapture:
    """A scrapy-playwright page method: refuse a walled page, else the stamped picture and the WARC."""
    at = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        text = await page.inner_text("body", timeout=5000)
    except Exception:
        text = ""
    refused = _refusal(page.url, at, text)
    if refused is not None:
        return refused
    png, error = None, None
    for _ in range(attempts):
        try:
            png = await page.screenshot(full_page=full_page, type="png", timeout=15000)
            break
        except Exception as exc:  # "Unable to capture screenshot" under load
            error = str(exc).splitlines()[0]
    exchanges = await recorder.exchanges_async()
    # composing the banner and writing the WARC are CPU work (~0.6 s for a 1280x4000 page on a loaded
    # core): off the event loop, so other pages of the crawl keep moving
    return await asyncio.to_thread(_finish, page.url, at, png, exchanges, zone=zone,
                                   error=None if png is not None else error or "Chromium could not capture the page")


def capture_sync(page, recorder: NetworkRecorder, *, zone: str,
                 full_page: bool = True) -> PageCapture:
    """The same with Playwright's sync API (:mod:`crawler.browser`)."""
    at = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        text = page.inner_text("body", timeout=5000)
    except Exception:
        text = ""
    refused = _refusal(page.url, at, text)
    if refused is not None:
        return refused
    try:
        png, error = page.screenshot(full_page=full_page, type="png"), None
    except Exception as exc:
        png, error = None, str(exc).splitlines()[0]
    return _finish(page.url, at, png, recorder.exchanges_sync(), zone=zone, error=error)
