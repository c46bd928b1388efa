"""Live windows and their evidence as records: a window becomes a Clip; a hit's evidence is cut from the buffer.

Shared by sampling rounds (:mod:`crawler.live`) and continuous watching (:mod:`crawler.watch`):
:func:`store_window` writes audio the buffer holds as a clip (``is_live``, its wall-clock
bounds); :func:`hit_spans` turns the detections a window raised into wall-clock spans;
:func:`store_evidence` cuts the matched span with context before and after out of the buffer
and stores it, with the room page as it was at that moment (:func:`page_at_hit`), linked to
the window both ways. :func:`coverage` is the share of airtime that was matched.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from parsel import Selector
from sqlalchemy import func, select

from crawler import ingest, media
from crawler.buffer import RoomBuffer
from crawler.capture import StreamEnded, StreamHttp
from crawler.clips import new_clip
from crawler.items import VideoItem
from earwitness.kernel.store.models import Clip, Detection, utcnow


@dataclass
class HitSpan:
    """One detection of a window, on the wall clock (epoch seconds)."""

    work_id: str
    detection_id: str
    start: float
    end: float
    ref_offset_s: float          # the second of the work on air at ``start``

    @property
    def alignment(self) -> float:
        """Wall time at which the work's second 0 would have been on air (constant while one play lasts)."""
        return self.start - self.ref_offset_s


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit mono WAV (same samples, same bytes: the store is content addressed)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return out.getvalue()


def store_window(store, room, start: float, samples: np.ndarray, sample_rate: int, *, status: str = "fetched",
                 extra: dict | None = None, page: dict | None = None) -> str:
    """Store audio on air from ``start`` as a live clip of ``room``; returns the clip id."""
    sha, rel = media.store_bytes(wav_bytes(samples, sample_rate), folder="media", suffix=".wav")
    html = (page or {}).get("html", room.html)
    item = VideoItem(site=room.site or room.platform, platform=room.platform, url=room.url,
                     media_id=room.room_id, html=html, screenshot=None if page else room.screenshot)
    evidence = ingest.store_evidence(item)
    t0 = _utc(start)
    t1 = _utc(start + len(samples) / sample_rate)
    info = {k: v for k, v in (page or {}).items() if k != "html"}
    audio = media.StoredAudio(audio_sha256=sha, media_path=rel, duration_s=len(samples) / sample_rate)
    clip = new_clip(platform=room.platform, url=room.url, media_id=f"{room.room_id}@{t0:%Y%m%dT%H%M%S.%fZ}",
                    audio=audio, evidence=evidence, uploader=info.get("streamer") or room.streamer,
                    uploader_id=room.streamer_id, status=status, title=info.get("title") or room.title,
                    captured_at=t0, view_count=info.get("viewers") or room.viewers, is_live=True,
                    live_window_start=t0, live_window_end=t1,
                    extra={"room_id": room.room_id, "stream": room.stream, "protocol": room.protocol,
                           **({"page_at_capture": info} if info else {}), **(extra or {})})
    with store.session() as s:
        s.add(clip)
    return clip.id


def hit_spans(store, clip_id: str, window_start: float, found: list[tuple[str, str]]) -> list[HitSpan]:
    """The wall-clock spans of the detections ``on_clip_stored`` raised for a window (by work: one
    detection per clip and work)."""
    works = sorted({w for w, _ in found})
    if not works:
        return []
    with store.session() as s:
        dets = list(s.scalars(select(Detection).where(Detection.clip_id == clip_id, Detection.work_id.in_(works))))
        # the matcher's ref_offset_s is where the clip's first sample falls in the work
        return [HitSpan(d.work_id, d.id, window_start + d.clip_offset_s,
                        window_start + d.clip_offset_s + d.duration_s,
                        d.ref_offset_s + (d.tempo_ratio or 1.0) * d.clip_offset_s) for d in dets]


def page_at_hit(room, http_: StreamHttp, *, timeout_s: float = 10.0) -> dict:
    """The room page as it is now (title, streamer, viewers, time, HTML), read with the site's identity.

    Plain HTTP (the room pages of live sites are rendered on the server); the first capture's
    screenshot stays on the window. Empty when the page cannot be read now.
    """
    if not room.page_url:
        return {}
    now = utcnow()
    try:
        html = http_.read_bytes(room.page_url, max_bytes=4 * 1024 * 1024, timeout_s=timeout_s)
    except StreamEnded:
        return {"captured_at": now.isoformat(), "error": "room page not readable at the hit"}
    out = {"captured_at": now.isoformat(), "html": html}
    sel = Selector(text=html.decode("utf-8", "replace"))
    for key in ("title", "streamer", "viewers"):
        css = room.selectors.get(key)
        value = sel.css(css).get() if css else None
        if value:
            out[key] = value.strip()
    if "viewers" in out:
        digits = "".join(ch for ch in out["viewers"] if ch.isdigit())
        out["viewers"] = int(digits) if digits else None
    return out


def store_evidence(store, room, buffer: RoomBuffer, window_clip_id: str, spans: list[HitSpan], *,
                   before_s: float, after_s: float, page: dict | None = None) -> str | None:
    """Cut [first hit - before_s, last hit + after_s] from the buffer and store it as the window's evidence."""
    t0 = min(s.start for s in spans) - before_s
    t1 = max(s.end for s in spans) + after_s
    start, samples = buffer.cut(t0, t1)
    if not len(samples):
        return None
    matched = [{"work_id": s.work_id, "detection_id": s.detection_id, "start": _utc(s.start).isoformat(),
                "end": _utc(s.end).isoformat(), "offset_in_recording_s": round(s.start - start, 3)} for s in spans]
    ev_id = store_window(store, room, start, samples, buffer.sr, status="evidence", page=page,
                         extra={"evidence_for": window_clip_id, "matched": matched,
                                "context_before_s": round(min(s.start for s in spans) - start, 3),
                                "context_after_s": round(start + len(samples) / buffer.sr - max(s.end for s in spans), 3)})
    with store.session() as s:
        clip = s.get(Clip, window_clip_id)
        clip.extra = {**(clip.extra or {}), "evidence_clip_id": ev_id}
    return ev_id


def drop_window_audio(store, clip_id: str) -> bool:
    """Remove the audio of a matched live window that holds no detection (no hit, or a later window of a
    play already detected): only evidence of hits keeps audio, so a watched room does not fill the disk.
    The clip row stays (coverage, the room's history) with ``media_path`` cleared and the removed file
    named in ``extra.audio_dropped``; a file another clip also points at stays. Only the local blob store
    (files under the data home) can remove: with another store (S3) the audio is kept, never claimed
    removed. Returns whether it dropped."""
    from earwitness.kernel.blobs import BlobStore, open_blob_store
    blobs = open_blob_store()
    if not isinstance(blobs, BlobStore):
        return False
    with store.session() as s:
        clip = s.get(Clip, clip_id)
        if clip is None or clip.status != "matched" or not clip.media_path or not clip.is_live:
            return False
        if s.scalar(select(func.count()).select_from(Detection).where(Detection.clip_id == clip_id)):
            return False
        rel = clip.media_path
        shared = s.scalar(select(func.count()).select_from(Clip).where(Clip.media_path == rel, Clip.id != clip_id))
        clip.extra = {**(clip.extra or {}), "audio_dropped": {"media_path": rel, "media_sha256": clip.media_sha256,
                                                              "reason": "no_detection"}}
        clip.media_path = None
    if not shared:
        blobs.path(rel).unlink(missing_ok=True)
    return True


def record_period(store, room, report: dict, *, started: datetime, ended: datetime) -> str:
    """One row of ``live_coverage`` for a period of watching ``room`` (a :class:`crawler.watch.WatchReport`
    as a dict): what was heard and matched, and how the stream last ended. Returns the row id."""
    from crawler.models import LiveCoverage
    plays = report.get("sightings") or []
    last = max((p["start_epoch"] for p in plays), default=None)
    ends = report.get("outcomes") or []
    row = LiveCoverage(platform=room.platform, room_id=room.room_id, url=room.url, title=room.title,
                       period_start=started, period_end=ended, heard_s=round(float(report.get("audio_s") or 0), 2),
                       windows=int(report.get("windows") or 0), plays=len(plays),
                       last_hit_at=_utc(last) if last is not None else None,
                       outcome=ends[-1]["outcome"] if ends else "ok", reason=ends[-1]["reason"] if ends else None)
    with store.session() as s:
        s.add(row)
    return row.id


def coverage(store, *, hours: float = 24.0, now: datetime | None = None) -> dict:
    """Share of the last ``hours`` of airtime that was recorded and matched, per room and per site.

    A room's airtime is the whole period (it is on air around the clock for all we know); a
    site's share is the mean over its rooms seen in the period. Overlapping windows count once.
    Per room also: its URL, the seconds of programme heard (``heard_s``), when its last window
    ended (``last_window_at``) and when its last hit was on air (``last_hit_at``, or None).
    """
    with store.session() as s:
        return coverage_from(s, hours=hours, now=now)


def coverage_from(s, *, hours: float = 24.0, now: datetime | None = None) -> dict:
    """:func:`coverage` read in an open session (the review app's)."""
    now = now or utcnow()
    since = now - timedelta(hours=hours)
    rows = s.execute(select(Clip.id, Clip.platform, Clip.url, Clip.extra, Clip.live_window_start,
                            Clip.live_window_end)
                     .where(Clip.is_live.is_(True), Clip.status == "matched",
                            Clip.live_window_end >= since)).all()
    hit_clips = set(s.scalars(select(Detection.clip_id).join(Clip, Clip.id == Detection.clip_id)
                              .where(Clip.is_live.is_(True), Clip.live_window_end >= since)))
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    about: dict[tuple[str, str], dict] = {}
    for clip_id, platform, url, extra, a, b in rows:
        key = (platform, (extra or {}).get("room_id") or "?")
        spans.setdefault(key, []).append((max(a, since), min(b, now)))
        info = about.setdefault(key, {"url": url, "last_window_at": b, "last_hit_at": None})
        info["last_window_at"] = max(info["last_window_at"], b)
        if clip_id in hit_clips:
            info["last_hit_at"] = a if info["last_hit_at"] is None else max(info["last_hit_at"], a)
    period = hours * 3600.0
    rooms = {}
    for key, ivs in spans.items():
        covered, end = 0.0, None
        for a, b in sorted(ivs):
            if end is not None and a < end:
                a = end
            if b > a:
                covered += (b - a).total_seconds()
                end = b
            end = max(end, b) if end else b
        rooms[key] = covered
    sites: dict[str, list[float]] = {}
    for (platform, _), heard in rooms.items():
        sites.setdefault(platform, []).append(heard / period)

    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None
    return {"hours": hours,
            "rooms": [{"platform": p, "room_id": r, "share": round(v / period, 6), "heard_s": round(v, 1),
                       "url": about[(p, r)]["url"], "last_window_at": iso(about[(p, r)]["last_window_at"]),
                       "last_hit_at": iso(about[(p, r)]["last_hit_at"])} for (p, r), v in sorted(rooms.items())],
            "sites": {p: round(sum(v) / len(v), 6) for p, v in sorted(sites.items())}}
