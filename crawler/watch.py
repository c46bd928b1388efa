"""Continuous monitoring of a live room: overlapping windows over a rolling buffer, one detection per play.

:func:`watch_room` keeps one stream open (reconnecting after ``watch.reconnect_s`` when it ends),
appends its audio to a :class:`crawler.buffer.RoomBuffer` of ``watch.buffer_min`` minutes, and
every ``watch.hop_s`` seconds stores the last ``live.window_s`` seconds as a window clip handed to
``on_clip_stored``. Windows overlap, so a song is usually matched by several of them; a
detection of a work already being heard in that room continues that *sighting* instead of
starting a new one when it overlaps the sighting in time, or follows it within a hop with the
same alignment (when the work's second 0 would have been on air, within ``_ALIGN_TOLERANCE_S``;
a short match at a window's edge can be placed less exactly than that, so overlap alone suffices): the later window keeps a note (``extra.continues``) and its
duplicate detection is removed before anyone reviews it, so each play is one detection, the
first window's. When a sighting has not been heard for ``evidence_s`` seconds its evidence is
cut from the buffer (the whole play with ``context_before_s`` before and ``evidence_s`` after)
with the room page at that moment.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from crawler import config
from crawler.buffer import RoomBuffer
from crawler.capture import Bounds, open_stream
from crawler.ingest import ClipSink
from crawler.live import Room, _sample_rate, buffer_root, live_settings, stream_http
from crawler.live_store import (HitSpan, drop_window_audio, hit_spans, page_at_hit, record_period, store_evidence,
                                store_window)
from earwitness.kernel.store.models import Clip, Detection

log = logging.getLogger(__name__)

_ALIGN_TOLERANCE_S = 3.0


@dataclass
class Sighting:
    """One play of a work in a room: the first window's detection, and how far it has been heard."""

    work_id: str
    clip_id: str
    detection_id: str
    alignment: float
    start: float
    end: float
    spans: list[HitSpan] = field(default_factory=list)
    windows: int = 1
    evidence_clip_id: str | None = None
    page: dict = field(default_factory=dict, repr=False)   # the room page when the play was first matched

    def as_dict(self) -> dict:
        def iso(t: float) -> str:
            return datetime.fromtimestamp(t, timezone.utc).isoformat()
        return {"work_id": self.work_id, "detection_id": self.detection_id, "clip_id": self.clip_id,
                "start": iso(self.start), "end": iso(self.end), "start_epoch": self.start, "end_epoch": self.end,
                "heard_s": round(self.end - self.start, 2), "windows": self.windows,
                "alignment_epoch": self.alignment,
                "evidence_clip_id": self.evidence_clip_id}


@dataclass
class WatchReport:
    room: str
    windows: int = 0
    audio_s: float = 0.0
    sightings: list[Sighting] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)    # each time the stream ended
    reconnects: int = 0
    cpu_s: float = 0.0
    buffer_peak_bytes: int = 0
    audio_dropped: int = 0          # windows whose audio was removed after matching (no detection of their own)

    def as_dict(self) -> dict:
        return {"room": self.room, "windows": self.windows, "audio_s": round(self.audio_s, 2),
                "sightings": [s.as_dict() for s in self.sightings], "outcomes": self.outcomes,
                "reconnects": self.reconnects, "cpu_s": round(self.cpu_s, 2),
                "buffer_peak_bytes": self.buffer_peak_bytes, "audio_dropped": self.audio_dropped}


class _Sightings:
    """The plays heard in one room, folding later windows' detections of the same play into the first."""

    def __init__(self, store, hop_s: float) -> None:
        self.store, self.hop_s = store, hop_s
        self.open: dict[str, Sighting] = {}
        self.closed: list[Sighting] = []

    def add(self, clip_id: str, spans: list[HitSpan]) -> list[Sighting]:
        """Fold a window's detections in; returns the sightings it started."""
        started, duplicates = [], []
        for span in spans:
            s = self.open.get(span.work_id)
            overlaps = s is not None and span.start <= s.end + _ALIGN_TOLERANCE_S
            aligned = s is not None and abs(s.alignment - span.alignment) <= _ALIGN_TOLERANCE_S \
                and span.start <= s.end + self.hop_s + _ALIGN_TOLERANCE_S
            if overlaps or aligned:
                s.end = max(s.end, span.end)
                s.windows += 1
                s.spans.append(span)
                duplicates.append((span, s))
                continue
            if s is not None:
                self.closed.append(self.open.pop(span.work_id))
            s = Sighting(span.work_id, clip_id, span.detection_id, span.alignment, span.start, span.end, [span])
            self.open[span.work_id] = s
            started.append(s)
        if duplicates:
            self._fold(clip_id, duplicates)
        return started

    def _fold(self, clip_id: str, duplicates: list[tuple[HitSpan, Sighting]]) -> None:
        with self.store.session() as s:
            for span, sighting in duplicates:
                det = s.get(Detection, span.detection_id)
                if det is not None and det.review_state == "pending":
                    s.delete(det)
            clip = s.get(Clip, clip_id)
            clip.extra = {**(clip.extra or {}), "continues": [
                {"work_id": sp.work_id, "detection_id": sg.detection_id} for sp, sg in duplicates]}

    def due(self, now_audio: float, next_window: float, after_s: float, *, everything: bool = False
            ) -> list[Sighting]:
        """Sightings no later window can extend (they ended before it starts) and followed by ``after_s``
        of audio (or all of them at the end)."""
        out = [s for s in self.open.values()
               if everything or (s.end <= next_window and s.end + after_s <= now_audio)]
        for s in out:
            del self.open[s.work_id]
        out, self.closed = self.closed + out, []
        return out


def watch_room(store, room: Room, *, on_clip_stored: ClipSink, duration_s: float | None = None,
               stop: threading.Event | None = None, window_s: float | None = None, hop_s: float | None = None,
               evidence_s: float | None = None, bounds: Bounds | None = None) -> WatchReport:
    """Watch ``room`` until ``stop`` is set or ``duration_s`` of wall clock has passed."""
    cfg = live_settings()
    wcfg = cfg["watch"] or {}
    window_s = float(window_s or cfg["window_s"])
    hop_s = float(hop_s or wcfg["hop_s"])
    after_s = float(cfg["evidence_s"] if evidence_s is None else evidence_s)
    before_s = float(cfg["context_before_s"])
    keep_s = max(float(wcfg["buffer_min"]) * 60, window_s + before_s + after_s + 2 * hop_s)
    reconnect_s = float(wcfg["reconnect_s"])
    min_window_s = float(cfg["min_window_s"])
    bounds = bounds or Bounds.from_settings(cfg)
    stop = stop or threading.Event()
    sr = _sample_rate()
    site = config.load_site(room.site) if room.site else None
    http_ = stream_http(site, room.headers)
    buf = RoomBuffer(buffer_root() / f"watch-{room.room_id}-{time.time_ns()}", sample_rate=sr, keep_s=keep_s)
    report = WatchReport(room=room.url)
    sightings = _Sightings(store, hop_s)
    t_end = time.monotonic() + duration_s if duration_s else None
    cpu0 = time.process_time()
    next_window: float | None = None

    def close_due(everything: bool = False) -> None:
        for s in sightings.due(buf.end or 0.0, next_window or 0.0, after_s, everything=everything):
            s.evidence_clip_id = store_evidence(store, room, buf, s.clip_id, s.spans, before_s=before_s,
                                                after_s=after_s, page=s.page)

    try:
        while not stop.is_set() and (t_end is None or time.monotonic() < t_end):
            stream = open_stream(room.stream, http_, protocol=room.protocol, sample_rate=sr, bounds=bounds)
            try:
                while not stop.is_set() and (t_end is None or time.monotonic() < t_end):
                    step = hop_s if t_end is None else max(0.5, min(hop_s, t_end - time.monotonic()))
                    for chunk in stream.read(step):
                        buf.append(chunk.start, chunk.samples)
                        report.audio_s += len(chunk.samples) / sr
                    report.buffer_peak_bytes = max(report.buffer_peak_bytes, buf.bytes_on_disk())
                    if buf.start is not None:
                        next_window = buf.start if next_window is None else next_window
                        while buf.end - next_window >= window_s - 0.05:
                            _match_window(store, room, buf, next_window, window_s, sr, on_clip_stored,
                                          sightings, report, http_)
                            next_window += hop_s
                        close_due()
                    if stream.ended:
                        break
                if not stream.ended and buf.end is not None and next_window is not None:
                    # the watch is over: match the last partial window, then record the evidence's
                    # "after" for the plays still open
                    if buf.end - next_window >= min_window_s:
                        _match_window(store, room, buf, next_window, buf.end - next_window, sr, on_clip_stored,
                                      sightings, report, http_)
                        next_window = buf.end
                if not stream.ended and sightings.open:
                    want = max(s.end for s in sightings.open.values()) + after_s - (buf.end or 0.0)
                    for chunk in stream.read(max(0.0, want)) if want > 0 else []:
                        buf.append(chunk.start, chunk.samples)
                    next_window = buf.end    # that audio is context, not a window of its own
            finally:
                stream.close()
            if stream.ended:
                kind, reason = stream.outcome
                report.outcomes.append({"outcome": kind, "reason": reason, "at": time.time()})
                log.info("%s: stream ended (%s, %s); reconnecting in %.0f s", room.url, kind, reason, reconnect_s)
                if stop.wait(reconnect_s):
                    break
                report.reconnects += 1
        if buf.end is not None and next_window is not None and buf.end - next_window >= min_window_s:
            _match_window(store, room, buf, next_window, buf.end - next_window, sr, on_clip_stored, sightings,
                          report, http_)
        close_due(everything=True)
    finally:
        buf.close()
        report.cpu_s = time.process_time() - cpu0
    report.sightings.sort(key=lambda s: s.start)
    return report


def _match_window(store, room: Room, buf: RoomBuffer, t0: float, window_s: float, sr: int,
                  on_clip_stored: ClipSink, sightings: _Sightings, report: WatchReport, http_) -> None:
    start, samples = buf.cut(t0, t0 + window_s)
    if not len(samples):
        return
    clip_id = store_window(store, room, start, samples, sr, extra={"watch": True})
    report.windows += 1
    found = on_clip_stored(store, clip_id)
    if found:
        started = sightings.add(clip_id, hit_spans(store, clip_id, start, found))
        if started:
            page = page_at_hit(room, http_)
            for s in started:
                s.page = page
        report.sightings.extend(started)
    if not live_settings()["keep_window_audio"] and drop_window_audio(store, clip_id):
        report.audio_dropped += 1


def watch_rooms(on_clip_stored: ClipSink, rooms: list[str] | None = None, *, minutes: float | None = None,
                stop: threading.Event | None = None, search: bool = True) -> dict:
    """Watch rooms continuously for ``minutes`` (default ``live.period_min``), each room in its own thread,
    never more than ``live.watch.max_rooms`` at once (the budget: see the README for what one core can
    watch). ``rooms`` given: those. Otherwise the watch list (``live.watch.rooms``) and, with ``search``,
    the rooms found by search on ``live.search.sites`` ranked behind it (:func:`crawler.rooms.plan_watch`).
    Rooms past the budget are reported ``over_budget`` (they rotate in at later periods), never silently
    dropped; a search that met a wall or a changed page is in ``search.problems``."""
    from concurrent.futures import ThreadPoolExecutor

    from crawler.browser import open_browser
    from crawler.errors import CrawlerError
    from crawler.live import resolve_room
    from crawler.rooms import plan_watch
    from earwitness.kernel.store import open_store
    from earwitness.kernel.store.models import utcnow

    cfg = live_settings()
    wcfg = cfg["watch"] or {}
    budget = int(wcfg["max_rooms"])
    minutes = float(minutes or cfg["period_min"])
    store = open_store()
    out: dict = {"budget": budget, "rooms": {}}
    if rooms or not search:
        urls = list(dict.fromkeys(rooms or wcfg["rooms"] or []))
        chosen, out["over_budget"] = urls[:budget], urls[budget:]
    else:
        plan = plan_watch(store, now=utcnow())     # before the browser opens: the search has its own
        chosen, out["over_budget"] = plan["watch"], plan["rotating"]
        out["search"] = {"queries": plan["queries"], "problems": plan["problems"],
                         "found": {u: {"room_id": f.media_id, "query": f.query, **f.listing}
                                   for u, f in plan["found"].items()}}
    targets = []
    if chosen:
        with open_browser() as browser:
            for url in chosen:
                try:
                    room = resolve_room(url, browser)
                except CrawlerError as exc:
                    out["rooms"][url] = {"outcome": getattr(exc, "kind", "transient"), "error": str(exc)}
                    continue
                if room.is_live and room.stream:
                    targets.append(room)
                else:
                    out["rooms"][url] = {"outcome": "offline", "reason": "not_live"}
    if targets:
        started = utcnow()
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            futures = {pool.submit(watch_room, store, r, on_clip_stored=on_clip_stored, duration_s=minutes * 60,
                                   stop=stop): r for r in targets}
            for fut, room in futures.items():
                try:
                    rep = out["rooms"][room.url] = fut.result().as_dict()
                except CrawlerError as exc:
                    out["rooms"][room.url] = {"outcome": "transient", "error": str(exc)}
                    continue
                record_period(store, room, rep, started=started, ended=utcnow())   # the app and the mirror
    return out
