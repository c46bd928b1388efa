"""From an item page to a stored, matched clip: the media pipeline's work, as a plain function.

:func:`ingest_item` runs in a worker thread of the crawl (one item at a time per
thread) and is safe to repeat: an item already ``fetched`` is skipped; an item
whose media file (the URL yt-dlp chose) was fetched before via another page
reuses that audio; audio is stored by SHA-256, and the matcher matches each
audio hash once. The clip row and the frontier's ``fetched`` mark are written
in one transaction, so a crawl killed at any point neither loses a clip nor
fetches it again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from crawler import config, frontier, media
from crawler.clips import new_clip
from crawler.errors import ContentGone, CrawlerError, FetchFailed, MediaRejected, Refused
from crawler.items import VideoItem
from earwitness.kernel.blobs import open_blob_store
from earwitness.kernel.store.models import Clip, utcnow

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What became of one item: ``state`` is the frontier state (or ``skipped``)."""

    media_id: str
    state: str
    reason: str | None = None
    kind: str | None = None            # the crawler.outcomes kind of a failure (blocked, transient...)
    retry_after_s: float | None = None  # the platform asked us to wait this long
    clip_id: str | None = None
    licensed: bool = False
    reused_audio: bool = False
    detections: int = 0
    work_ids: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def store_evidence(item: VideoItem) -> dict[str, str | None]:
    """Screenshot PNG, network WARC and HTML of the page, content addressed under ``<home>/evidence/pages``."""
    out: dict[str, str | None] = {}
    if item.screenshot:
        out["screenshot_sha256"], out["screenshot_path"] = media.store_bytes(
            item.screenshot, folder="evidence/pages", suffix=".png")
    if item.warc:
        out["warc_sha256"], out["warc_path"] = media.store_bytes(item.warc, folder="evidence/pages",
                                                                 suffix=".warc.gz")
    if item.html:
        out["html_sha256"], out["html_path"] = media.store_bytes(item.html, folder="evidence/pages",
                                                                 suffix=".html")
    return out


def _first(*values):
    return next((v for v in values if v not in (None, "")), None)


ClipSink = Callable[[Any, str], list[tuple[str, str]]]
"""What the crawler calls once a clip is stored: ``on_clip_stored(store, clip_id)`` returns the
(work id, detection id) pairs raised for review. The application hands in "match now"
(:func:`earwitness.app.matching.match_stored_clip`) or "enqueue"; ``None`` leaves the clip
``fetched`` for the match backlog."""


def _fetch_audio(store, item: VideoItem, site: config.SiteConfig, out: Outcome):
    """Extract the item and get its audio (downloaded, or reused from the same media file
    fetched via another page); returns (info, source URL, StoredAudio, (original's SHA-256, its path))."""
    t0 = time.perf_counter()
    limit = float(config.section()["media"]["max_duration_s"])
    if item.duration_s and item.duration_s > limit and not item.is_live:
        raise MediaRejected("too_long", item.url, f"page says {item.duration_s:.0f}s > {limit:.0f}s")
    info = media.extract(item.media_url or item.url, site)
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise MediaRejected("live_stream", item.url, "a live stream in a video crawl (live rooms are "
                            "sampled by `earwitness live sample`)")
    out.timings["extract"] = time.perf_counter() - t0
    src = media.source_url(info)
    if src:
        with store.session() as s:
            twin = frontier.fetched_with_source(s, src)
            clip = s.get(Clip, twin.clip_id) if twin is not None and twin.clip_id else None
            if clip is not None and clip.media_path and open_blob_store().exists(clip.media_path):
                out.reused_audio = True
                return (info, src, media.StoredAudio(clip.audio_sha256, clip.media_path, clip.duration_s or 0.0),
                        (clip.original_sha256 or (clip.extra or {}).get("download_sha256"), clip.original_path))
    fetched = media.download(info, site)
    out.timings.update(fetched.timings)
    return info, src, fetched.audio, (fetched.media_sha256, fetched.original_path)


def ingest_item(store, item: VideoItem, site: config.SiteConfig, *, on_clip_stored: ClipSink | None = None,
                max_attempts: int = 3) -> Outcome:
    """Fetch, store and match one item. Expected failures become outcomes, not exceptions."""
    out = Outcome(media_id=item.media_id, state="skipped")
    with store.session() as s:
        row = frontier.ensure(s, item.site, item.platform, item.media_id, item.url)
        if row.state in ("fetched", "gone", "rejected") or (row.state == "failed" and row.attempts >= max_attempts):
            out.state, out.clip_id = row.state, row.clip_id
            return out
        if not frontier.take(s, row):   # another crawl worker holds this item: it fetches it
            out.reason = "claimed by another worker"
            return out
        row.attempts += 1
    if item.gone_reason:
        frontier.mark(store, item.platform, item.media_id, "gone", reason=item.gone_reason,
                      http_status=item.http_status)
        out.state, out.reason = "gone", item.gone_reason
        return out
    media_cfg = config.section()["media"]
    try:
        with media.time_limit(media_cfg["item_time_limit_s"]):
            info, src, audio, (download_sha, original_path) = _fetch_audio(store, item, site, out)
    except ContentGone as exc:
        # the page as first seen (it was up then) is kept: proof the item existed
        fields = {}
        evidence = store_evidence(item)
        if evidence:
            with store.session() as s:
                row = frontier.get(s, item.platform, item.media_id)
                fields["listing"] = {**(row.listing or {}), "evidence": evidence}
        frontier.mark(store, item.platform, item.media_id, "gone", reason=exc.reason, http_status=exc.http_status,
                      **fields)
        out.state, out.reason, out.kind = "gone", exc.reason, exc.kind
        return out
    except MediaRejected as exc:
        frontier.mark(store, item.platform, item.media_id, "rejected", reason=exc.reason)
        out.state, out.reason = "rejected", exc.reason
        return out
    except Refused as exc:   # a wall: nothing is known about the item; it stays to retry
        frontier.mark(store, item.platform, item.media_id, "failed", reason=f"{exc.kind}: {exc}"[:1000],
                      http_status=exc.http_status)
        out.state, out.reason, out.kind, out.retry_after_s = "failed", str(exc), exc.kind, exc.retry_after_s
        return out
    except (FetchFailed, CrawlerError) as exc:
        kind = getattr(exc, "kind", "broken")
        frontier.mark(store, item.platform, item.media_id, "failed", reason=f"{kind}: {exc}"[:1000],
                      http_status=getattr(exc, "http_status", None))
        out.state, out.reason, out.kind = "failed", str(exc), kind
        return out

    t2 = time.perf_counter()
    clip = new_clip(
        platform=item.platform, url=item.url, media_id=item.media_id, audio=audio, evidence=store_evidence(item),
        uploader=_first(item.uploader, info.get("uploader"), info.get("channel")),
        uploader_id=_first(item.uploader_id, info.get("uploader_id"), info.get("channel_id")),
        title=_first(item.title, info.get("title")),
        published_at=_first(media.parse_time(item.published_at), media.parse_time(info.get("timestamp")),
                            media.parse_time(info.get("upload_date"))),
        original_path=original_path, original_sha256=download_sha if original_path else None,
        captured_at=utcnow(), view_count=_first(item.view_count, media.parse_count(info.get("view_count"))),
        is_live=bool(item.is_live or info.get("is_live")),
        extra={"site": item.site, "query": item.query, "found_on": item.found_on, "download_sha256": download_sha,
               "source_url": src, "extractor": info.get("extractor_key"), **item.extra},
    )
    licensed = clip.licensed
    with store.session() as s:
        s.add(clip)
        s.flush()
        row = frontier.get(s, item.platform, item.media_id)
        row.state, row.clip_id, row.source_url, row.audio_sha256 = "fetched", clip.id, src, audio.audio_sha256
        frontier.finished(s, row)
        row.reason = "licensed" if licensed else None
    out.timings["store"] = time.perf_counter() - t2
    out.state, out.clip_id, out.licensed = "fetched", clip.id, licensed
    if on_clip_stored is not None:  # licensed clips are matched too: their detections are "licensed"
        t3 = time.perf_counter()
        try:
            found = on_clip_stored(store, clip.id)
        except Exception as exc:  # a matcher bug must not kill the crawl; the clip stays for the backlog
            log.exception("matching clip %s failed", clip.id)
            out.reason = f"match failed: {exc}"
            found = []
        out.detections = len(found)
        out.work_ids = sorted({w for w, _ in found})
        out.timings["match"] = time.perf_counter() - t3
    return out
