"""Logins that last: a site's cookies kept under the data home, for yt-dlp, Scrapy and Playwright.

``<home>/logins/<site>.json`` is the Playwright storage state (cookies and local storage),
``<home>/logins/<site>.cookies.txt`` the same cookies in Netscape format (what yt-dlp and
browsers' exporters read and write). Both are owner-only (0600, folder 0700): they are the
account. A login comes from a browser's cookies.txt (:func:`import_cookies`) or from a
logged-in Playwright context, e.g. after a QR scan (:func:`save_state`).

Who reads it: :func:`crawler.media.ydl_options` (``cookiefile``), the Scrapy downloader
middleware :class:`LoginCookiesMiddleware` (the ``Cookie`` header), the crawl's Playwright
context (``storage_state``) and the browser-context discovery (:mod:`crawler.discovery`).
A site's configured ``cookies_file`` still wins where it is set.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from crawler.errors import CrawlerError
from earwitness.kernel import settings as ew_settings


class LoginError(CrawlerError):
    """A cookies file that cannot be read, or holds no cookie for the site."""


def folder() -> Path:
    path = ew_settings.get().path("logins")
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def state_path(site: str) -> Path:
    return ew_settings.get().path("logins") / f"{site}.json"


def cookies_path(site: str) -> Path:
    return ew_settings.get().path("logins") / f"{site}.cookies.txt"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` so that no other user can ever read it (created 0600, then renamed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cookie_to_state(c: http.cookiejar.Cookie) -> dict[str, Any]:
    return {"name": c.name, "value": c.value or "", "domain": c.domain, "path": c.path or "/",
            "expires": float(c.expires) if c.expires else -1, "httpOnly": bool(c.has_nonstandard_attr("HttpOnly")),
            "secure": bool(c.secure), "sameSite": "Lax"}


def _state_to_jar(state: dict[str, Any]) -> http.cookiejar.MozillaCookieJar:
    jar = http.cookiejar.MozillaCookieJar()
    for c in state.get("cookies") or []:
        domain = str(c["domain"])
        expires = c.get("expires")
        jar.set_cookie(http.cookiejar.Cookie(
            0, c["name"], c.get("value", ""), None, False, domain, True, domain.startswith("."),
            c.get("path") or "/", True, bool(c.get("secure")),
            int(expires) if expires and expires > 0 else None, not (expires and expires > 0), None, None,
            {"HttpOnly": ""} if c.get("httpOnly") else {}))
    return jar


def _jar_text(jar: http.cookiejar.MozillaCookieJar) -> str:
    fd, tmp = tempfile.mkstemp(dir=folder(), prefix=".jar.")
    os.close(fd)
    try:
        jar.save(tmp, ignore_discard=True, ignore_expires=True)
        return Path(tmp).read_text(encoding="utf-8")
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_state(site: str, state: dict[str, Any]) -> Path:
    """Keep a Playwright storage state (and its cookies as cookies.txt) as ``site``'s login."""
    if not state.get("cookies"):
        raise LoginError(f"site {site!r}: the login holds no cookies")
    folder()
    _write_private(state_path(site), json.dumps(state, indent=1))
    _write_private(cookies_path(site), _jar_text(_state_to_jar(state)))
    return state_path(site)


def import_cookies(site: str, cookies_txt: str | os.PathLike) -> Path:
    """A browser's Netscape cookies.txt (as yt-dlp takes) becomes ``site``'s login."""
    jar = http.cookiejar.MozillaCookieJar()
    try:
        jar.load(str(cookies_txt), ignore_discard=True, ignore_expires=True)
    except (OSError, http.cookiejar.LoadError) as exc:
        raise LoginError(f"{cookies_txt}: not a Netscape cookies.txt file: {exc}") from exc
    cookies = [_cookie_to_state(c) for c in jar]
    if not cookies:
        raise LoginError(f"{cookies_txt}: no cookies in it")
    return save_state(site, {"cookies": cookies, "origins": []})


def load_state(site: str) -> dict[str, Any] | None:
    path = state_path(site)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def cookie_file(site: str | None) -> Path | None:
    """The site's cookies.txt, if it has a login."""
    if not site:
        return None
    path = cookies_path(site)
    return path if path.is_file() else None


def describe(site: str) -> dict[str, Any] | None:
    """What is known about a kept login without showing it: cookie count, earliest expiry."""
    state = load_state(site)
    if state is None:
        return None
    expiries = [c["expires"] for c in state.get("cookies", []) if c.get("expires", -1) > 0]
    return {"site": site, "cookies": len(state.get("cookies", [])), "path": str(state_path(site)),
            "expires_at": min(expiries) if expiries else None,
            "expired": bool(expiries) and min(expiries) < time.time()}


def cookie_header(site: str, url: str) -> str | None:
    """The ``Cookie`` header the site's login gives a request to ``url`` (domain and path rules)."""
    path = cookie_file(site)
    if path is None:
        return None
    jar = http.cookiejar.MozillaCookieJar()
    jar.load(str(path), ignore_discard=True, ignore_expires=True)
    req = urllib.request.Request(url)
    jar.add_cookie_header(req)
    return req.get_header("Cookie")


class LoginCookiesMiddleware:
    """Scrapy downloader middleware: every request of the crawl carries the site's login cookies."""

    def __init__(self, site: str) -> None:
        self.site = site

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured
        site = crawler.settings.get("EARWITNESS_SITE")
        if not site or cookie_file(site) is None:
            raise NotConfigured
        return cls(site)

    def process_request(self, request, spider=None) -> None:
        header = cookie_header(self.site, request.url)
        if not header:
            return
        have = request.headers.get("Cookie")
        if have:
            names = {part.split("=", 1)[0].strip() for part in have.decode("latin-1").split(";")}
            extra = "; ".join(p for p in header.split("; ") if p.split("=", 1)[0] not in names)
            if extra:
                request.headers["Cookie"] = have.decode("latin-1") + "; " + extra
        else:
            request.headers["Cookie"] = header


def qr_login(site, *, qr_path: Path, timeout_s: float, on_qr, browser: dict[str, Any],
             user_agent: str | None = None) -> Path:
    """Log in by QR code: open the site's login page (``login.url``), save its QR picture
    (``login.qr``, a CSS selector) to ``qr_path`` and hand the path to ``on_qr`` (print it, show
    it), then wait for a phone to scan it: done when the ``login.cookie`` cookie appears. The
    context's storage state becomes the site's login."""
    from playwright.sync_api import sync_playwright
    cfg = site.get("login") or {}
    missing = [k for k in ("url", "qr", "cookie") if not cfg.get(k)]
    if missing:
        raise LoginError(f"site {site.name!r}: QR login needs login.{', login.'.join(missing)} in its YAML")
    qr_path = Path(qr_path)
    qr_path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(**browser)
        try:
            ctx = b.new_context(user_agent=user_agent)
            page = ctx.new_page()
            page.goto(site.url(str(cfg["url"])), wait_until="domcontentloaded")
            page.locator(str(cfg["qr"])).screenshot(path=str(qr_path))
            os.chmod(qr_path, 0o600)
            on_qr(qr_path)
            deadline = time.monotonic() + timeout_s
            while not any(c["name"] == cfg["cookie"] for c in ctx.cookies()):
                if time.monotonic() > deadline:
                    raise LoginError(f"site {site.name!r}: the QR code was not scanned within {timeout_s:.0f} s")
                page.wait_for_timeout(300)
            return save_state(site.name, ctx.storage_state())
        finally:
            b.close()
