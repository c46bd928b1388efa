"""The one function the crawler hands clips to: clip -> matcher -> Detection rows.

A clip's audio is matched once per audio hash: a second clip with the same
``audio_sha256`` (a re-upload, another URL) gets the first one's detections
without decoding anything. Uploads by licensed accounts are matched and
recorded as ``licensed`` so they never enter the review queue. A pair that a
reviewer rejected (same audio, same work) is not raised again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, update

from earwitness.app import sections as _sections  # noqa: F401  (the sections read here are typed)
from earwitness.kernel import settings
from earwitness.kernel.blobs import BlobMissing, open_blob_store
from earwitness.app.catalog import fingerprint_config, index_path, open_index
from earwitness.kernel.store import Store, leases
from earwitness.kernel.store.models import Clip, Detection, utcnow
from matchers.audio import load_audio
from matchers.config import DEFAULT_QUERY, QueryConfig
from matchers.errors import AudioError
from matchers.match import Match, Matcher, pair_from_transform
from notices.review import is_known_false_positive

log = logging.getLogger(__name__)
_lock = threading.Lock()
_match_lock = threading.Lock()
_cached: tuple[tuple, Matcher] | None = None


def query_config() -> QueryConfig:
    """The query settings, with the ``matcher`` section of the configuration applied."""
    section = settings.get().section("matcher")
    fields = {k: section[k] for k in QueryConfig.__dataclass_fields__ if k in section}
    return QueryConfig(**{**DEFAULT_QUERY.__dict__, **fields})


def get_matcher() -> Matcher:
    """The process's matcher; reopened when the index changed on disk (a catalog import elsewhere)
    or the settings it was opened with did (another fingerprint or query configuration)."""
    global _cached
    manifest = index_path() / "index.json"
    key = (manifest.stat().st_mtime if manifest.exists() else -1.0, index_path(), fingerprint_config(), query_config())
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, Matcher(open_index(create=False), key[3]))
        return _cached[1]


def _is_known_false_positive(session, audio_sha256: str | None, work_id: str) -> bool:
    return bool(audio_sha256) and is_known_false_positive(session, audio_sha256, work_id)


def match_clip(session, clip: Clip) -> list[Detection]:
    """Match one clip and record its detections; the clip's status says how it went."""
    matcher = get_matcher()
    detections: list[Detection] = []
    earlier = None
    if clip.audio_sha256:
        earlier = session.scalars(select(Clip).where(Clip.audio_sha256 == clip.audio_sha256, Clip.id != clip.id,
                                                     Clip.status == "matched",
                                                     Clip.matcher_version == matcher.version)).first()
    if earlier is not None:
        found = [_match_of(d) for d in earlier.detections]
    else:
        if not clip.media_path:
            return _fail(clip, "no media file recorded for this clip")
        try:
            y = load_audio(open_blob_store().local_path(clip.media_path), sr=matcher.cfg.sample_rate)
        except AudioError as exc:
            return _fail(clip, exc.reason)
        except BlobMissing as exc:   # an unreachable store raises on: the clip stays for a later try
            return _fail(clip, str(exc))
        found = matcher.reported(y)
    existing = {d.work_id for d in clip.detections}
    for m in found:
        if m.work_id in existing or _is_known_false_positive(session, clip.audio_sha256, m.work_id):
            continue
        det = Detection(clip_id=clip.id, work_id=m.work_id, clip_offset_s=m.clip_offset_s, ref_offset_s=m.ref_offset_s,
                        duration_s=m.duration_s, score=m.score, pitch_semitones=m.pitch_semitones,
                        tempo_ratio=m.tempo_ratio, matched_peaks=m.matched_peaks, matcher_version=matcher.version,
                        review_state="licensed" if clip.licensed else "pending")
        session.add(det)
        detections.append(det)
    clip.status, clip.error = "matched", None
    clip.matched_at = utcnow()
    clip.matcher_version = matcher.version
    return detections


def _fail(clip: Clip, reason: str) -> list[Detection]:
    clip.status, clip.error = "failed", reason
    clip.matched_at = utcnow()
    log.warning("clip %s (%s): %s", clip.id, clip.url, reason)
    return []


def _match_of(d: Detection) -> Match:
    pair = pair_from_transform(d.clip_offset_s, d.clip_offset_s + d.duration_s, d.ref_offset_s, d.tempo_ratio)
    return Match(work_id=d.work_id, score=d.score, pair=pair, pitch_semitones=d.pitch_semitones,
                 tempo_ratio=d.tempo_ratio, work_at_clip_start_s=d.ref_offset_s,
                 matched_peaks=d.matched_peaks or 0, clip_peaks=0, votes=0)


def _claim_fetched(session, clip_id: str) -> bool:
    """Lock a ``fetched`` clip for this transaction; False when another matcher took it first.

    A conditional no-op UPDATE: on PostgreSQL it takes the row lock (a second
    matcher waits, then finds the clip no longer ``fetched``); on SQLite it takes
    the write lock for the one clip in hand. Two matchers never match one clip twice.
    """
    res = session.execute(update(Clip).where(Clip.id == clip_id, Clip.status == "fetched")
                          .values(status="fetched").execution_options(synchronize_session=False))
    return res.rowcount == 1


def match_stored_clip(store: Store, clip_id: str) -> list[tuple[str, str]]:
    """The crawler's ``on_clip_stored``: match one stored clip now.

    Returns (work id, detection id) of the new detections raised for review (a
    licensed upload's are recorded as ``licensed`` and not returned). One match at a
    time per process: the matcher's shared state is not thread-safe, and matching is
    CPU-bound, so fetch threads overlap their I/O with one match.
    """
    with _match_lock, store.session() as s:
        if not _claim_fetched(s, clip_id):
            return []
        clip = s.get(Clip, clip_id)
        dets = match_clip(s, clip)
        s.flush()   # the detections' ids are given on insert: the caller gets real ids, not None
        return [(d.work_id, d.id) for d in dets if d.review_state != "licensed"]


@dataclass(frozen=True)
class BacklogResult:
    clips: int
    matched: int
    failed: int
    detections: int
    errors: tuple[str, ...] = ()
    stopped: bool = False

    @property
    def status(self) -> str:
        """``ok``; ``partial`` when some clips could not be matched; ``failed`` when none could."""
        if not self.failed:
            return "ok"
        return "partial" if self.matched else "failed"

    def as_dict(self) -> dict:
        return {"status": self.status, "clips": self.clips, "matched": self.matched, "failed": self.failed,
                "detections": self.detections, "errors": list(self.errors), "stopped": self.stopped}


def _record_failure(store: Store, clip_id: str, reason: str) -> None:
    """Mark a clip whose matching raised as ``failed`` with the reason, so the queue moves on."""
    with store.session() as s:
        if _claim_fetched(s, clip_id):
            _fail(s.get(Clip, clip_id), reason[:2000])


def _reason(exc: Exception) -> str:
    from sqlalchemy.exc import IntegrityError
    if isinstance(exc, IntegrityError):
        return (f"the store refused its detections ({str(exc.orig).splitlines()[0]}); a work in the "
                f"fingerprint index is missing from the works table or does not fit it: run "
                f"`earwitness catalog import` again for it, then set the clip back to fetched")
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class ClaimedOutcome:
    """What became of a claimed clip: ``done`` (someone matched it first), ``matched`` or ``failed``."""

    state: str
    detections: int = 0
    reason: str | None = None
    raised: bool = False


def match_claimed_clip(store: Store, clip_id: str) -> ClaimedOutcome:
    """Match a clip this worker holds the lease on; the outcome and the lease's release in one transaction.

    A clip whose matching raises is rolled back and marked ``failed`` with the reason
    (its lease then runs out): one bad clip never holds up the queue behind it.
    """
    try:
        with store.session() as s:
            if not _claim_fetched(s, clip_id):   # matched meanwhile (by a crawl matching inline)
                leases.release(s, MATCH_QUEUE, [clip_id])
                return ClaimedOutcome("done")
            clip = s.get(Clip, clip_id)
            n_found = len(match_clip(s, clip))
            leases.release(s, MATCH_QUEUE, [clip_id])
            return ClaimedOutcome(clip.status, n_found, clip.error)
    except Exception as exc:  # noqa: BLE001 - contained: recorded on the clip, the queue goes on
        reason = _reason(exc)
        log.warning("clip %s: %s", clip_id, reason)
        _record_failure(store, clip_id, reason)
        return ClaimedOutcome("failed", 0, reason, raised=True)


MATCH_QUEUE = "match"   # the lease queue of clips being matched (backlog and matcher workers share it)


def match_lease_s() -> float:
    """How long a clip is held by the worker matching it before another may take it (``workers.match_lease_s``)."""
    return float(settings.get().section("workers")["match_lease_s"])


def claim_backlog_clip(store: Store, *, exclude: list[str] = ()) -> str | None:
    """Claim the oldest ``fetched`` clip no other worker holds (and not in ``exclude``); its id, or None."""
    with store.session() as s:
        q = select(Clip.id).where(Clip.status == "fetched").order_by(Clip.captured_at, Clip.id).limit(1)
        if exclude:
            q = q.where(Clip.id.not_in(list(exclude)))
        got = leases.claim(s, MATCH_QUEUE, q, Clip.id, lease_s=match_lease_s())
    return got[0] if got else None


def match_backlog(store: Store, limit: int | None = None, *, stop=None) -> BacklogResult:
    """Match every clip still ``fetched``, one transaction per clip (a crash loses at most the clip in hand).

    Each clip is claimed first (a lease, see :mod:`earwitness.kernel.store.leases`), so
    several processes may run the backlog, and matcher workers may run beside it,
    without matching a clip twice; a dead process's clip is taken again when its lease ends.

    A clip whose matching raises (a work in the index but not in the table, a
    value the store refuses) is rolled back, marked ``failed`` with the reason and
    skipped: one bad clip never holds up the queue behind it. ``stop`` (set when the
    daemon stops) is checked between clips.
    """
    ids: list[str] = []
    stuck: list[str] = []
    matched = failed = n_det = 0
    errors: list[str] = []
    stopped = False
    while limit is None or len(ids) < limit:
        if stop is not None and stop.is_set():
            stopped = True
            break
        clip_id = claim_backlog_clip(store, exclude=stuck)
        if clip_id is None:
            break
        ids.append(clip_id)
        outcome = match_claimed_clip(store, clip_id)
        if outcome.state == "done":
            continue
        ok, n_found, reason = outcome.state == "matched", outcome.detections, outcome.reason
        if outcome.raised:
            stuck.append(clip_id)   # its lease runs out; not claimed again by this run
        if ok:
            matched += 1
            n_det += n_found
        else:
            failed += 1
            if len(errors) < 20:
                errors.append(f"clip {clip_id}: {reason}")
    return BacklogResult(len(ids), matched, failed, n_det, tuple(errors), stopped)


def alignment(session, detection_id: str) -> dict:
    """The picture of a detection: clip peaks, the work's peaks mapped into clip time, and which coincide.

    Returns ``{"clip": [[t_s, hz], ...], "reference": [[t_s, hz], ...], "matched": [[t_s, hz], ...],
    "transform": {...}}`` with times in clip seconds and frequencies in Hz.
    """
    from matchers.fingerprint import peaks_of_samples
    from matchers.spectrum import log_bin_frequencies

    det = session.get(Detection, detection_id)
    if det is None:
        raise LookupError(f"no detection {detection_id}")
    matcher = get_matcher()
    if det.work_id not in matcher.index:
        raise LookupError(f"work {det.work_id} is no longer in the fingerprint index")
    cfg = matcher.cfg
    y = load_audio(open_blob_store().local_path(det.clip.media_path), sr=cfg.sample_rate)
    peaks = peaks_of_samples(y, cfg)
    fps = cfg.frames_per_second
    rt, rf = matcher.index.peaks_of(det.work_id)
    # work peak at frame r maps to clip frame (r - o) / s, bin f + shift
    ct = (rt - det.ref_offset_s * fps) / det.tempo_ratio
    inside = (ct >= 0) & (ct <= peaks.t[-1])
    ct, cf = ct[inside], rf[inside] + det.pitch_semitones * cfg.bins_per_semitone
    hz = lambda b: np.interp(b, np.arange(len(log_bin_frequencies(cfg))), log_bin_frequencies(cfg))  # noqa: E731
    near = matcher.explained(peaks, _match_of(det))
    pts = lambda t, f: np.round(np.column_stack([t / fps, hz(f)]), 3).tolist()  # noqa: E731
    return {"clip": pts(peaks.t, peaks.f), "reference": pts(ct, cf), "matched": pts(peaks.t[near], peaks.f[near]),
            "transform": {"ref_offset_s": det.ref_offset_s, "tempo_ratio": det.tempo_ratio,
                          "pitch_semitones": det.pitch_semitones, "score": det.score}}
