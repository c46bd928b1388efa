"""Is a reported item still up? The case re-check's probe, through the crawler's own fetch path.

:func:`probe` asks yt-dlp for the item exactly as a crawl does (same user agent,
proxy, cookies, retries on 429/5xx, same classification of "gone"), and
optionally fetches its audio again into the content-addressed store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crawler import config, media
from crawler.errors import ContentGone, FetchFailed, MediaRejected, SiteConfigError
from earwitness.kernel.store.models import utcnow


@dataclass
class ProbeResult:
    """``gone`` with ``reason``: http_404, http_410, http_451, platform_removed, private,
    geo_blocked, not_live; or still up: ``still_up``; or unknown: ``error``
    (network or server trouble: neither gone nor up)."""

    url: str
    platform: str
    gone: bool
    reason: str
    http_status: int | None
    checked_at: datetime
    detail: str = ""
    audio_path: str | None = None      # relative to the data home, when fetched
    audio_sha256: str | None = None


def _site(platform: str) -> config.SiteConfig | None:
    try:
        return config.load_site(platform)
    except SiteConfigError:
        return None


def probe(url: str, platform: str, *, fetch_audio: bool = False) -> ProbeResult:
    """Check ``url`` now; with ``fetch_audio`` also store its current audio when still up."""
    site = _site(platform)
    try:
        info = media.extract(url, site)
        result = ProbeResult(url, platform, False, "still_up", 200, utcnow())
        if fetch_audio:
            got = media.download(info, site)
            result.audio_path, result.audio_sha256 = got.audio.media_path, got.audio.audio_sha256
        return result
    except ContentGone as exc:
        return ProbeResult(url, platform, True, exc.reason, exc.http_status, utcnow(), str(exc))
    except MediaRejected as exc:  # the page is up but its media breaks a limit: still up
        return ProbeResult(url, platform, False, "still_up", 200, utcnow(), str(exc))
    except FetchFailed as exc:
        return ProbeResult(url, platform, False, "error", getattr(exc, "http_status", None), utcnow(), str(exc))
