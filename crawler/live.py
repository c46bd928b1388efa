"""Live rooms: find them, resolve their stream, and sample a window from each per round.

A round (:func:`sample_rooms`) finds rooms on the configured live sites (their directory and
category pages, rendered), adds the configured watch list and the given URLs, and resolves
each one (:func:`resolve_room`): a room page of a configured site (selectors in its YAML), a
direct stream URL (``.flv``, ``.m3u8``, ``.mpd``), or a page of a real platform through
yt-dlp's live extractors (Huya and Douyu give HTTP-FLV, Twitch HLS, Bilibili either). Then, for
every live room at once (threads): a window of ``live.window_s`` seconds is captured through
:mod:`crawler.capture` (protocol-aware, every read bounded, the site's proxy, cookies and user
agent) into a :class:`crawler.buffer.RoomBuffer`, stored as a clip and handed to
``on_clip_stored`` (the matcher). On a hit the capture goes on for ``live.evidence_s`` seconds
and the evidence recording is cut from the buffer: the matched span with
``live.context_before_s`` before it and ``live.evidence_s`` after it, plus the room page as it
was then. A room that stops, errors or goes offline mid-window ends its window with an outcome
(``offline``, ``gone``, ``blocked``, ``transient``...) in the report and the round goes on.
Continuous watching of a room is :mod:`crawler.watch`.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawler import config, js_runtime, media
from crawler.browser import Browser, open_browser
from crawler.buffer import RoomBuffer
from crawler.capture import Bounds, StreamEnded, StreamHttp, open_stream, protocol_of
from crawler.errors import ContentGone, CrawlerError, Refused
from crawler.ingest import ClipSink
from crawler.live_store import drop_window_audio, hit_spans, page_at_hit, store_evidence, store_window
from earwitness.kernel import settings as ew_settings
from earwitness.kernel.store import open_store

log = logging.getLogger(__name__)


@dataclass
class Room:
    """A live room to sample: where its page and stream are, and what its page said."""

    url: str
    platform: str
    room_id: str
    site: str | None = None
    stream: str | None = None
    protocol: str | None = None
    page_url: str | None = None
    title: str | None = None
    streamer: str | None = None
    streamer_id: str | None = None
    viewers: int | None = None
    is_live: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    selectors: dict[str, str] = field(default_factory=dict)
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
    outcomes: list[dict] = field(default_factory=list)   # per room: url, outcome, reason, seconds captured


def live_settings() -> dict:
    return config.section()["live"]


def _live_sites() -> list[config.SiteConfig]:
    out = []
    for name in live_settings().get("sites") or []:
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


def stream_http(site: config.SiteConfig | None, headers: dict[str, str] | None = None) -> StreamHttp:
    """HTTP with the site's (or the crawler's) user agent, proxy and cookies, plus yt-dlp's headers."""
    def opt(key: str):
        return site.option(key) if site is not None else config.section().get(key)
    return StreamHttp(user_agent=opt("user_agent"), proxy=opt("proxy"), cookies_file=opt("cookies_file"),
                      headers=headers)


def discover_rooms(site: config.SiteConfig, browser: Browser) -> list[str]:
    """Room URLs on a live site's directory and category pages (rendered), in page order, once each."""
    live = site.get("live") or {}
    pages = [live["directory_url"]] + [live.get("category_url", "").replace("{category}", c)
                                       for c in (live.get("categories") or []) if live.get("category_url")]
    links: list[str] = []
    for template in pages:
        url = site.url(template)
        page = browser.render(url, wait_for=live.get("done"), screenshot=False)
        sel = Selector(text=page.html.decode("utf-8", "replace"))
        links += [urljoin(url, h) for h in sel.css(live["room_link"]).getall()]
    return list(dict.fromkeys(links))[: int(live_settings().get("max_rooms", 20))]


def _direct_stream(url: str) -> bool:
    return urlsplit(url).path.lower().endswith((".flv", ".m3u8", ".mpd"))


def resolve_room(url: str, browser: Browser | None) -> Room:
    """A room's metadata, page evidence and stream URL (configured site, direct stream, or yt-dlp).

    ``browser`` renders the room page for its screenshot and HTML; without one (or when the render
    fails) a yt-dlp room keeps what the extractor read, and its windows carry no page capture.
    """
    site = _site_for_url(url)
    if site is not None and not _direct_stream(url):
        live = site.get("live")
        m = re.search(live.get("room_pattern", r"(?P<id>[^/?#]+)/?$"), url)
        room_id = m.group("id") if m else url.rstrip("/").rsplit("/", 1)[-1]
        page = browser.render(url, wait_for=live.get("playlist_selector", "").split("::")[0] or None)
        if page.status in (404, 410):
            raise ContentGone(f"http_{page.status}", url, page.status)
        sel = Selector(text=page.html.decode("utf-8", "replace"))

        def pick(key: str) -> str | None:
            v = sel.css(live[key]).get() if live.get(key) else None
            return v.strip() if v else None

        stream = pick("playlist_selector")
        stream = urljoin(url, stream) if stream else (site.url(live["playlist"], id=room_id)
                                                      if live.get("playlist") else None)
        is_live = (pick("is_live") or "true").lower() not in ("false", "0", "no")
        viewers = pick("viewers")
        return Room(url=url, platform=site.platform, room_id=room_id, site=site.name, stream=stream,
                    protocol=protocol_of(stream) if stream else None, page_url=url, title=pick("title"),
                    streamer=pick("streamer"), streamer_id=pick("streamer_id"),
                    viewers=int(viewers) if viewers and viewers.isdigit() else None, is_live=is_live,
                    selectors={k: live[k] for k in ("title", "streamer", "viewers") if live.get(k)},
                    html=page.html, screenshot=page.screenshot)
    if _direct_stream(url):
        parts = urlsplit(url)
        stem = Path(parts.path).stem
        room_id = stem if stem not in ("index", "playlist", "manifest") else Path(parts.path).parent.name
        return Room(url=url, platform=(site.platform if site else parts.hostname or "stream"), room_id=room_id,
                    site=site.name if site else None, stream=url, protocol=protocol_of(url))
    js_runtime.ensure_phantomjs()     # Douyu: yt-dlp runs the page's signing JS through `phantomjs`
    info = media.extract(url, site)   # real platforms: yt-dlp's live extractors choose the format
    fmt = (info.get("requested_formats") or [info])[0]
    html = screenshot = None
    if browser is not None:
        try:
            page = browser.render(url)
            html, screenshot = page.html, page.screenshot
        except CrawlerError as exc:
            log.warning("%s: no page capture (%s); sampling goes on", url, exc)
    from crawler.spiders import live_platform_of
    platform = live_platform_of(url) or str(info.get("extractor_key") or "live").lower()
    stream = fmt.get("url")
    return Room(url=url, platform=platform, room_id=str(info.get("id")), stream=stream,
                protocol=protocol_of(stream or "", fmt.get("protocol") if fmt.get("ext") != "flv" else "flv"),
                page_url=url, title=info.get("title"), streamer=info.get("uploader"),
                streamer_id=info.get("uploader_id"), viewers=info.get("concurrent_view_count") or info.get("view_count"),
                is_live=bool(info.get("is_live", True)), headers=dict(fmt.get("http_headers") or {}),
                html=html, screenshot=screenshot)


def _sample_rate() -> int:
    return int(config.section()["media"]["sample_rate"])


def buffer_root() -> Path:
    return ew_settings.get().path("live-buffer")


def sample_room(store, room: Room, *, window_s: float, evidence_s: float, report: LiveReport,
                on_clip_stored: ClipSink, bounds: Bounds | None = None) -> dict:
    """One window from one room, handed to ``on_clip_stored``; a hit keeps capturing and cuts the evidence.

    Returns the room's outcome (also appended to ``report.outcomes``).
    """
    cfg = live_settings()
    bounds = bounds or Bounds.from_settings(cfg)
    before_s = float(cfg["context_before_s"])
    min_window_s = float(cfg["min_window_s"])
    sr = _sample_rate()
    site = config.load_site(room.site) if room.site else None
    http_ = stream_http(site, room.headers)
    buf = RoomBuffer(buffer_root() / f"{room.room_id}-{time.time_ns()}", sample_rate=sr,
                     keep_s=window_s + before_s + evidence_s + 60)
    outcome = {"url": room.url, "room_id": room.room_id, "protocol": room.protocol, "outcome": "ok", "reason": "",
               "captured_s": 0.0}
    stream = open_stream(room.stream, http_, protocol=room.protocol, sample_rate=sr, bounds=bounds)
    try:
        # the buffer is filled context_before_s ahead of the window, so evidence of a song matched at
        # the window's very start still shows what came before it
        for chunk in stream.read(before_s + window_s):
            buf.append(chunk.start, chunk.samples)
        outcome["outcome"], outcome["reason"] = stream.outcome
        outcome["ads_skipped_s"] = stream.ads_skipped_s
        if buf.start is None or buf.end - buf.start < min_window_s:
            outcome["captured_s"] = 0.0 if buf.start is None else round(buf.end - buf.start, 2)
            return outcome
        start, samples = buf.cut(max(buf.start, buf.end - window_s), buf.end)
        outcome["captured_s"] = round(len(samples) / sr, 2)
        clip_id = store_window(store, room, start, samples, sr,
                               extra={"capture": {k: outcome[k] for k in ("outcome", "reason", "ads_skipped_s")}})
        report.windows += 1
        report.clip_ids.append(clip_id)
        found = on_clip_stored(store, clip_id)
        if not found:
            if not cfg["keep_window_audio"]:
                outcome["audio_dropped"] = drop_window_audio(store, clip_id)
            return outcome
        report.matched_windows += 1
        report.detections += len(found)
        report.work_ids.extend(sorted({w for w, _ in found}))
        spans = hit_spans(store, clip_id, start, found)
        if evidence_s > 0 and spans:
            wanted_end = max(s.end for s in spans) + evidence_s
            if buf.end < wanted_end and not stream.ended:
                for chunk in stream.read(wanted_end - buf.end):
                    buf.append(chunk.start, chunk.samples)
            ev_id = store_evidence(store, room, buf, clip_id, spans, before_s=before_s, after_s=evidence_s,
                                   page=page_at_hit(room, http_))
            if ev_id:
                report.evidence_recordings += 1
                report.clip_ids.append(ev_id)
        return outcome
    finally:
        stream.close()
        buf.close()
        report.outcomes.append(outcome)


def sample_rooms(on_clip_stored: ClipSink, rooms: list[str] | None = None, *, window_s: float | None = None,
                 evidence_s: float | None = None, discover: bool = True) -> LiveReport:
    """One round over the watched rooms (given, configured, and found on live sites); each window is
    handed to ``on_clip_stored`` (the application's matcher)."""
    cfg = live_settings()
    window_s = float(window_s or cfg["window_s"])
    evidence_s = float(cfg["evidence_s"] if evidence_s is None else evidence_s)
    store = open_store()
    report = LiveReport()
    with open_browser() as browser:
        urls = list(rooms or []) + list(cfg["rooms"] or [])
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
            except (ContentGone, Refused, CrawlerError) as exc:
                kind = getattr(exc, "kind", "transient")
                report.offline += kind in ("offline", "gone")
                report.errors.append(str(exc))
                report.outcomes.append({"url": url, "outcome": kind, "reason": getattr(exc, "reason", ""),
                                        "captured_s": 0.0})
                continue
            report.rooms += 1
            if room.is_live and room.stream:
                targets.append(room)
            else:
                report.offline += 1
                report.outcomes.append({"url": url, "room_id": room.room_id, "outcome": "offline",
                                        "reason": "not_live", "captured_s": 0.0})
    if not targets:
        return report
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = {pool.submit(sample_room, store, r, window_s=window_s, evidence_s=evidence_s,
                               report=report, on_clip_stored=on_clip_stored): r for r in targets}
        for fut, room in futures.items():
            try:
                out = fut.result()
            except (CrawlerError, StreamEnded) as exc:
                report.errors.append(f"{room.url}: {exc}")
                continue
            if out["outcome"] in ("offline", "gone"):
                report.offline += 1
            if out["outcome"] != "ok":
                report.errors.append(f"{room.url}: {out['outcome']} ({out['reason']}) after {out['captured_s']} s")
    return report


def sample_forever(on_clip_stored: ClipSink, rooms: list[str] | None = None) -> None:
    """``earwitness live sample --loop``: a round every ``live.period_min`` minutes."""
    period = float(live_settings().get("period_min", 10)) * 60
    while True:
        t0 = time.monotonic()
        rep = sample_rooms(on_clip_stored, rooms)
        log.info("live round: %s", rep)
        time.sleep(max(0.0, period - (time.monotonic() - t0)))
