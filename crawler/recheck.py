"""Is a reported item still up? The case re-check's probe, through the crawler's own fetch path.

:func:`probe` asks yt-dlp for the item exactly as a crawl does (same user agent,
proxy, cookies, retries on 429/5xx), classifies the answer with
:mod:`crawler.outcomes` (the one taxonomy crawls use too), keeps the page the
platform answered with as evidence, and optionally fetches the audio again into
the content-addressed store. A wall (bot check, captcha, sign-in, rate limit) is
reported as ``blocked`` / ``needs_login``: it says nothing about the item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from crawler import config, media, outcomes
from crawler.errors import ContentGone, FetchFailed, MediaRejected, Refused, SiteConfigError
from earwitness.kernel.store.models import utcnow

log = logging.getLogger(__name__)
PAGE_EVIDENCE_BYTES = 2 * 1024 * 1024


@dataclass
class ProbeResult:
    """One probe. ``outcome`` is the :mod:`crawler.outcomes` kind (``up``, ``gone``, ``private``,
    ``geo_blocked``, ``blocked``, ``needs_login``, ``transient``, ``broken``, ``offline``);
    ``gone`` is true only for ``gone`` (the platform says removed / not found); ``reason`` the
    cause (``still_up``, ``http_404``, ``platform_removed``, ``bot_check``, ``rate_limited``...;
    ``error`` for an unclassified failure)."""

    url: str
    platform: str
    gone: bool
    reason: str
    http_status: int | None
    checked_at: datetime
    detail: str = ""
    audio_path: str | None = None      # relative to the data home, when fetched
    audio_sha256: str | None = None
    outcome: str = ""
    page_path: str | None = None       # the page the platform answered with, relative to the data home
    page_sha256: str | None = None

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = "gone" if self.gone else ("transient" if self.reason == "error" else "up")


def _site(platform: str) -> config.SiteConfig | None:
    try:
        return config.load_site(platform)
    except SiteConfigError:
        return None


@dataclass
class PageAnswer:
    """The page the platform answered a probe with, kept as an exhibit."""

    status: int | None
    body: bytes
    path: str | None = None      # relative to the data home
    sha256: str | None = None
    final_url: str | None = None  # after redirects (a login page, when the login expired)


def keep_page(url: str, site: config.SiteConfig | None, *, store: bool = True) -> PageAnswer | None:
    """GET ``url`` as yt-dlp would (same headers, proxy, cookies) and (with ``store``) keep the
    answer's body, whatever its status, under ``evidence/probes``; None when nothing answered."""
    from yt_dlp.networking.exceptions import HTTPError, RequestError
    ydl = media._ydl(site)
    try:
        resp = ydl.urlopen(url)
    except HTTPError as exc:
        resp = exc.response
    except RequestError as exc:
        log.info("%s: page not kept: %s", url, exc)
        return None
    try:
        body = resp.read(PAGE_EVIDENCE_BYTES)
    except Exception as exc:  # noqa: BLE001  a dropped body is a missing exhibit, not a failed probe
        log.info("%s: page body not kept: %s", url, exc)
        return None
    finally:
        resp.close()
    page = PageAnswer(getattr(resp, "status", None), body or b"", final_url=getattr(resp, "url", None))
    if body and store:
        page.sha256, page.path = media.store_bytes(body, folder="evidence/probes", suffix=".html")
    return page


def probe(url: str, platform: str, *, fetch_audio: bool = False, keep_evidence: bool = True) -> ProbeResult:
    """Check ``url`` now; with ``fetch_audio`` also store its current audio when still up, with
    ``keep_evidence`` the page the platform answered with (each probe is an exhibit).

    When yt-dlp found no media on a page or could not read it (an ``up`` without media, or
    ``broken``), the kept page decides whether that page was a wall: a bot check served
    with status 200 is ``blocked``, not "still up"."""
    site = _site(platform)
    media_read = True
    try:
        info = media.extract(url, site)
        result = ProbeResult(url, platform, False, "still_up", 200, utcnow(), outcome="up")
        if fetch_audio:
            got = media.download(info, site)
            result.audio_path, result.audio_sha256 = got.audio.media_path, got.audio.audio_sha256
    except ContentGone as exc:
        result = ProbeResult(url, platform, exc.kind == "gone", exc.reason, exc.http_status, utcnow(), str(exc),
                             outcome=exc.kind)
    except Refused as exc:
        result = ProbeResult(url, platform, False, exc.reason, exc.http_status, utcnow(), str(exc),
                             outcome=exc.kind)
    except MediaRejected as exc:  # the page is up but its media breaks a limit, or it has none
        result = ProbeResult(url, platform, False, "still_up", 200, utcnow(), str(exc), outcome="up")
        media_read = False
    except FetchFailed as exc:
        result = ProbeResult(url, platform, False, exc.reason or "error", exc.http_status, utcnow(), str(exc),
                             outcome=exc.kind)
        media_read = exc.kind != "broken"
    if keep_evidence or not media_read:
        page = keep_page(url, site, store=keep_evidence)
        if page is not None:
            result.page_path, result.page_sha256 = page.path, page.sha256
            wall = outcomes.from_page(page.status, page.body)
            if _sent_to_login(site, page.final_url):
                wall = outcomes.Answer("needs_login", "login_expired", page.status, f"sent to {page.final_url}")
            if not media_read and wall.is_wall:
                result.outcome, result.reason, result.gone = wall.kind, wall.reason, False
                result.http_status, result.detail = wall.http_status, wall.detail
    return result


def _sent_to_login(site: config.SiteConfig | None, final_url: str | None) -> bool:
    """Whether a redirect ended on the site's login page (``discovery.login_path`` or ``login.url``)."""
    from urllib.parse import urlsplit
    if site is None or not final_url:
        return False
    paths = [(site.get("discovery") or {}).get("login_path")]
    login_url = (site.get("login") or {}).get("url")
    if login_url:
        paths.append(urlsplit(site.url(str(login_url))).path)
    here = urlsplit(final_url).path
    return any(p and here.startswith(p) for p in paths)
