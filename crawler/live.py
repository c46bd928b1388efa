"""Live rooms: every P minutes record W seconds from each watched room; a hit triggers evidence.

A round (:func:`sample_rooms`) finds rooms on the configured live sites (their
directory page, rendered), adds the configured and given room URLs, and for
each live room at once (threads): screenshot + HTML of the room page, then
ffmpeg on the HLS playlist URL itself with ``-live_start_index -1`` (starts at
the newest segment and reads in real time) for ``live.window_s`` seconds. The
window is stored as a clip (``is_live``, window bounds) and matched; a window
that matches triggers a longer recording (``live.evidence_s``) of the same
room, stored as a clip with status ``evidence`` linked both ways.
Rooms of real platforms (Huya, Douyu, Twitch, TikTok/Bilibili live) resolve
their playlist through yt-dlp's extractors.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from crawler import config, ingest, media
from crawler.browser import Browser, open_browser
from crawler.clips import new_clip
from crawler.errors import ContentGone, CrawlerError
from crawler.items import VideoItem
from crawler.ingest import ClipSink
from earwitness.kernel.store import open_store
from earwitness.kernel.store.models import Clip, utcnow

log = logging.getLogger(__name__)


@dataclass
class Room:
    """A live room to sample."""

    url: str
    platform: str
    room_id: str
    site: str | None = None
    playlist: str | None = None
    title: str | None = None
    streamer: str | None = None
    streamer_id: str | None = None
    is_live: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    html: bytes | None = None
    screenshot: bytes | None = None


@dataclass
class LiveReport:
    rooms: int = 0
    offline: int = 0
    windows: int = 0
    matched_windows: int = 0
    detections: int = 0
    evidence_recordings: int = 0
    clip_ids: list[str] = field(default_factory=list)
    work_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _live_sites() -> list[config.SiteConfig]:
    out = []
    for name in config.section().get("live", {}).get("sites") or []:
        site = config.load_site(name)
        if site.get("live"):
            out.append(site)
    return out


def _site_for_url(url: str) -> config.SiteConfig | None:
    for name in config.site_files():
        site = config.load_site(name)
        if site.get("live") and site.base_url and url.startswith(site.base_url):
            return site
    return None


def discover_rooms(site: config.SiteConfig, browser: Browser) -> list[str]:
    """Room URLs on a live site's directory page (rendered)."""
    live = site.get("live") or {}
    url = site.url(live["directory_url"])
    page = browser.render(url, wait_for=live.get("done"), screenshot=False)
    sel = Selector(text=page.html.decode("utf-8", "replace"))
    links = [urljoin(url, h) for h in sel.css(live["room_link"]).getall()]
    return list(dict.fromkeys(links))[: int(config.section().get("live", {}).get("max_rooms", 20))]


def resolve_room(url: str, browser: Browser) -> Room:
    """A room's metadata, page evidence and playlist URL (configured site or yt-dlp)."""
    site = _site_for_url(url)
    if site is not None:
        live = site.get("live")
        m = re.search(live.get("room_pattern", r"(?P<id>[^/?#]+)/?$"), url)
        room_id = m.group("id") if m else url.rstrip("/").rsplit("/", 1)[-1]
        page = browser.render(url, wait_for=live.get("playlist_selector", "").split("::")[0] or None)
        sel = Selector(text=page.html.decode("utf-8", "replace"))

        def pick(key: str) -> str | None:
            v = sel.css(live[key]).get() if live.get(key) else None
            return v.strip() if v else None

        if page.status in (404, 410):
            raise ContentGone(f"http_{page.status}", url, page.status)
        playlist = pick("playlist_selector")
        playlist = urljoin(url, playlist) if playlist else (site.url(live["playlist"], id=room_id)
                                                            if live.get("playlist") else None)
        is_live = (pick("is_live") or "true").lower() not in ("false", "0", "no")
        return Room(url=url, platform=site.platform, room_id=room_id, site=site.name, playlist=playlist,
                    title=pick("title"), streamer=pick("streamer"), streamer_id=pick("streamer_id"),
                    is_live=is_live, html=page.html, screenshot=page.screenshot)
    info = media.extract(url)   # real platforms: yt-dlp's live extractors give the HLS URL
    fmt = (info.get("requested_formats") or [info])[0]
    page = browser.render(url)
    from crawler.spiders import live_platform_of
    platform = live_platform_of(url) or str(info.get("extractor_key") or "live").lower()
    return Room(url=url, platform=platform, room_id=str(info.get("id")),
                playlist=fmt.get("url"), title=info.get("title"), streamer=info.get("uploader"),
                streamer_id=info.get("uploader_id"), is_live=bool(info.get("is_live", True)),
                headers=dict(fmt.get("http_headers") or {}), html=page.html, screenshot=page.screenshot)


def record(room: Room, seconds: float) -> tuple[media.StoredAudio, Any, Any]:
    """Record ``seconds`` of the room from now; returns the audio and the window's bounds (UTC)."""
    if not room.playlist:
        raise CrawlerError(f"room {room.url}: no playlist URL")
    args = ["-live_start_index", "-1", "-rw_timeout", "15000000"]
    if room.headers:
        args += ["-headers", "".join(f"{k}: {v}\r\n" for k, v in room.headers.items())]
    start = newest_segment_time(room.playlist, room.headers) or utcnow()
    audio = media.normalise_audio(room.playlist, input_args=args, max_duration_s=seconds,
                                  timeout_s=seconds + 60)
    return audio, start, start + timedelta(seconds=audio.duration_s)


def newest_segment_time(playlist: str, headers: dict[str, str] | None = None) -> datetime | None:
    """When the newest segment's content was live (its ``#EXT-X-PROGRAM-DATE-TIME``), UTC.

    ffmpeg with ``-live_start_index -1`` starts there, a few seconds behind "now": the
    window's bounds then say when its audio was actually on air. None if not given.
    """
    import urllib.request
    try:
        req = urllib.request.Request(playlist, headers=headers or {})
        text = urllib.request.urlopen(req, timeout=10).read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    stamps = re.findall(r"^#EXT-X-PROGRAM-DATE-TIME:(\S+)", text, flags=re.M)
    if not stamps:
        return None
    try:
        dt = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _store_window(store, room: Room, audio, start, end, *, status: str = "fetched",
                  extra: dict | None = None) -> str:
    item = VideoItem(site=room.site or room.platform, platform=room.platform, url=room.url,
                     media_id=room.room_id, html=room.html, screenshot=room.screenshot)
    clip = new_clip(platform=room.platform, url=room.url, media_id=f"{room.room_id}@{start:%Y%m%dT%H%M%SZ}",
                    audio=audio, evidence=ingest.store_evidence(item), uploader=room.streamer,
                    uploader_id=room.streamer_id, status=status, title=room.title, captured_at=start,
                    is_live=True, live_window_start=start, live_window_end=end,
                    extra={"room_id": room.room_id, "playlist": room.playlist, **(extra or {})})
    with store.session() as s:
        s.add(clip)
    return clip.id


def sample_room(store, room: Room, *, window_s: float, evidence_s: float, report: LiveReport,
                on_clip_stored: ClipSink) -> None:
    """One window from one room, handed to ``on_clip_stored`` (the matcher); a hit triggers the evidence
    recording."""
    audio, start, end = record(room, window_s)
    clip_id = _store_window(store, room, audio, start, end)
    report.windows += 1
    report.clip_ids.append(clip_id)
    found = on_clip_stored(store, clip_id)
    if not found:
        return
    report.matched_windows += 1
    report.detections += len(found)
    report.work_ids.extend(sorted({w for w, _ in found}))
    if evidence_s > 0:
        ev_audio, ev_start, ev_end = record(room, evidence_s)
        ev_id = _store_window(store, room, ev_audio, ev_start, ev_end, status="evidence",
                              extra={"evidence_for": clip_id})
        with store.session() as s:
            clip = s.get(Clip, clip_id)
            clip.extra = {**(clip.extra or {}), "evidence_clip_id": ev_id}
        report.evidence_recordings += 1
        report.clip_ids.append(ev_id)


def sample_rooms(on_clip_stored: ClipSink, rooms: list[str] | None = None, *, window_s: float | None = None,
                 evidence_s: float | None = None, discover: bool = True) -> LiveReport:
    """One round over the watched rooms (given, configured, and found on live sites); each window is
    handed to ``on_clip_stored`` (the application's matcher)."""
    cfg = config.section().get("live", {})
    window_s = float(window_s or cfg.get("window_s", 20))
    evidence_s = float(cfg.get("evidence_s", 60) if evidence_s is None else evidence_s)
    store = open_store()
    report = LiveReport()
    with open_browser() as browser:
        urls = list(rooms or []) + list(cfg.get("rooms") or [])
        if discover and not rooms:
            for site in _live_sites():
                try:
                    urls += discover_rooms(site, browser)
                except Exception as exc:  # one site down must not stop the others
                    report.errors.append(f"{site.name}: {exc}")
        targets: list[Room] = []
        for url in dict.fromkeys(urls):
            try:
                room = resolve_room(url, browser)
            except (ContentGone, CrawlerError) as exc:
                report.offline += 1
                report.errors.append(str(exc))
                continue
            report.rooms += 1
            if room.is_live:
                targets.append(room)
            else:
                report.offline += 1
    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        futures = {pool.submit(sample_room, store, r, window_s=window_s, evidence_s=evidence_s,
                               report=report, on_clip_stored=on_clip_stored): r for r in targets}
        for fut, room in futures.items():
            try:
                fut.result()
            except CrawlerError as exc:
                report.errors.append(f"{room.url}: {exc}")
    return report


def sample_forever(on_clip_stored: ClipSink, rooms: list[str] | None = None) -> None:
    """``earwitness live sample --loop``: a round every ``live.period_min`` minutes."""
    period = float(config.section().get("live", {}).get("period_min", 10)) * 60
    while True:
        t0 = time.monotonic()
        rep = sample_rooms(on_clip_stored, rooms)
        log.info("live round: %s", rep)
        time.sleep(max(0.0, period - (time.monotonic() - t0)))
