"""A Chromium page renderer for work outside a Scrapy crawl (live rooms, re-check evidence).

Same browser, flags and user agent as the crawl's download layer (scrapy-playwright),
through Playwright's sync API; used from plain threads, never inside Twisted.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from crawler import config
from crawler.page_capture import NetworkRecorder, PageCapture, capture_sync
from earwitness.kernel import settings as ew_settings


@dataclass
class Rendered:
    """One visit: the page's HTML, and with ``screenshot=True`` its capture (:mod:`crawler.page_capture`):
    ``screenshot`` is the stamped picture, None when the page was a wall (``capture.refused``)."""

    url: str
    status: int | None
    html: bytes
    screenshot: bytes | None
    capture: PageCapture | None = None


class Browser:
    """One Chromium with one context; :meth:`render` is one page visit."""

    def __init__(self, context, timeout_ms: int, zone: str) -> None:
        self.context, self.timeout_ms, self.zone = context, timeout_ms, zone

    def render(self, url: str, *, wait_for: str | None = None, screenshot: bool = True) -> Rendered:
        page = self.context.new_page()
        recorder = NetworkRecorder()
        if screenshot:
            page.on("response", recorder.on_response)
        try:
            resp = page.goto(url, wait_until="load", timeout=self.timeout_ms)
            if wait_for:
                try:
                    page.wait_for_selector(wait_for, state="attached", timeout=min(self.timeout_ms, 15000))
                except Exception:  # the page rendered without it: the caller decides
                    pass
            capture = capture_sync(page, recorder, zone=self.zone) if screenshot else None
            return Rendered(url=page.url, status=resp.status if resp else None,
                            html=page.content().encode("utf-8"),
                            screenshot=capture.screenshot if capture else None, capture=capture)
        finally:
            page.close()


def chromium_options(section: dict) -> dict:
    """Playwright's launch options for Debian's chromium, from the ``crawler`` section."""
    chromium = section["chromium"]
    return {"executable_path": chromium["executable_path"], "args": list(chromium["args"]), "headless": True}


@contextmanager
def open_browser(user_agent: str | None = None, proxy: str | None = None) -> Iterator[Browser]:
    """Launch Debian's chromium (``crawler.chromium`` settings) for the ``with`` block."""
    from playwright.sync_api import sync_playwright
    sec = config.section()
    chromium = sec["chromium"]
    with sync_playwright() as pw:
        launch = chromium_options(sec)
        if proxy or sec["proxy"]:
            launch["proxy"] = {"server": proxy or sec["proxy"]}
        browser = pw.chromium.launch(**launch)
        try:
            context = browser.new_context(user_agent=user_agent or sec["user_agent"],
                                          viewport={"width": 1280, "height": 900})
            context.route("**/*", lambda route: route.abort() if route.request.resource_type == "media"
                          else route.continue_())
            yield Browser(context, int(chromium["navigation_timeout_ms"]), ew_settings.get().local_zone.key)
        finally:
            browser.close()
