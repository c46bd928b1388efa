"""Evidence bundles: everything a detection rests on, hashed, stored and entered in the ledger.

A bundle holds the captured clip (the normalised audio the matcher heard), the
file as downloaded (``original.*``: the container as the platform served it), the
page screenshot (stamped with its URL and capture time), the page's network
record (``network.warc.gz``) and HTML (where the crawler captured them), and
``metadata.json`` (offsets in clip and reference,
score, estimated pitch and tempo, clip and work details, capture time in UTC and
in the team's ``local_timezone``, software versions). Files are stored
content-addressed under ``<home>/evidence/objects/``; the manifest (stored the
same way, so a rebuilt bundle never overwrites one a ledger entry names) lists
each file's SHA-256, and one ledger entry commits to all of them. The entry and
the bundle row commit together or the ledger says why not: a rolled-back
transaction appends an ``abort`` entry (:func:`notices.ledger.abort`). A file whose
hash differs from the one the crawler recorded at capture is refused: evidence
that changed since capture is not evidence.

Writers: the evidence job and letter drafting both build bundles, often at the
same moment. Building is locked per detection (an exclusive ``flock`` on
``<home>/evidence/locks/<detection>.lock``) from the existence check until the
caller's transaction ends, so of two writers one builds and the other finds its
committed bundle; the manifest is written whole under its own hash, never over
a manifest a committed bundle points at.
"""

from __future__ import annotations

import fcntl
import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from earwitness import __version__
from earwitness.kernel import settings
from earwitness.kernel.blobs import BlobChanged, BlobMissing, BlobStore, BlobStoreUnavailable, open_blob_store
from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import Detection, utcnow
from notices import ledger
from notices.exceptions import EvidenceError, NotFound
from earwitness.kernel.store.case_models import EvidenceBundle
from notices.timestamping import Timestamper

Bundle = EvidenceBundle


def _times(t: datetime | None) -> dict | None:
    if t is None:
        return None
    zone = settings.get().local_zone.key
    return {"utc": t.astimezone(ZoneInfo("UTC")).isoformat(),
            zone: t.astimezone(ZoneInfo(zone)).isoformat()}


def _suffix(rel: str) -> str:
    """A stored file's suffix as a bundle member keeps it (``.warc.gz`` whole)."""
    path = Path(rel)
    return "".join(path.suffixes[-2:]).lower() if rel.endswith(".warc.gz") else path.suffix.lower()


OBJECTS = "evidence/objects"   # the bundles' content-addressed files, under the data home


def _captured_file(home: Path, rel: str) -> Path | None:
    """A captured file as a local path: under the data home, else from the configured blob store (the
    crawler may keep media, originals and page captures on S3; the copy is checked against its name)."""
    src = home / rel
    if src.is_file():
        return src
    try:
        return open_blob_store().local_path(rel)
    except BlobMissing:
        return None
    except BlobStoreUnavailable as exc:
        raise EvidenceError(f"the blob store holding {rel} cannot be read now: {exc}") from exc
    except BlobChanged as exc:
        raise EvidenceError(f"{rel} changed since capture: {exc}") from exc


def _store_object(home: Path, src: Path, sha: str) -> str:
    """Copy ``src`` into the object store under its hash; its path relative to the home."""
    try:
        return BlobStore(home).copy_in(src, folder=OBJECTS, suffix=src.suffix.lower(), expected_sha256=sha).path
    except BlobChanged as exc:
        raise EvidenceError(str(exc)) from exc


def _put_bytes(home: Path, data: bytes, suffix: str) -> tuple[str, str]:
    blob = BlobStore(home).put_bytes(data, folder=OBJECTS, suffix=suffix)
    return blob.path, blob.sha256


def metadata(det: Detection, files: dict[str, dict], not_captured: list[str]) -> dict:
    clip, work = det.clip, det.work
    return {
        "detection": {
            "id": det.id, "clip_offset_s": det.clip_offset_s, "ref_offset_s": det.ref_offset_s,
            "duration_s": det.duration_s, "score": det.score,
            "pitch_semitones": det.pitch_semitones, "tempo_ratio": det.tempo_ratio,
            "matched_peaks": det.matched_peaks, "review_state": det.review_state,
            "reviewed_by": det.reviewed_by, "reviewed_at": _times(det.reviewed_at),
            "detected_at": _times(det.created_at),
        },
        "clip": {
            "id": clip.id, "platform": clip.platform, "url": clip.url, "media_id": clip.media_id,
            "title": clip.title, "uploader": clip.uploader, "uploader_id": clip.uploader_id,
            "published_at": _times(clip.published_at), "captured_at": _times(clip.captured_at),
            "is_live": clip.is_live, "live_window_start": _times(clip.live_window_start),
            "live_window_end": _times(clip.live_window_end), "view_count": clip.view_count,
            "audio_sha256": clip.audio_sha256, "duration_s": clip.duration_s,
            "original_sha256": clip.original_sha256,
            "page_capture": (clip.extra or {}).get("page_capture"),
        },
        "work": {"id": work.id, "title": work.title, "artist": work.artist, "isrc": work.isrc,
                 "owner": work.owner, "audio_sha256": work.audio_sha256},
        "files": {name: meta["sha256"] for name, meta in files.items()},
        "not_captured": not_captured,
        "software": {"earwitness": __version__, "matcher": det.matcher_version},
        "bundled_at": _times(utcnow()),
    }


LOCK_WAIT_S = 120.0


class _DetectionLock:
    """An exclusive lock on one detection's bundle, held until the session's transaction ends."""

    def __init__(self, path: Path) -> None:
        self.path, self.fh = path, None

    def acquire(self, wait_s: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    fh.close()
                    raise EvidenceError(f"another writer has been building the evidence of this detection "
                                        f"for over {wait_s:.0f} s ({self.path}); try again later") from None
                time.sleep(0.05)
        self.fh = fh

    def release(self, *_args) -> None:
        if self.fh is not None:
            self.fh.close()   # closing the descriptor drops the flock
            self.fh = None


def _lock_detection(session: Session, home: Path, detection_id: str) -> None:
    """Hold the detection's bundle lock until ``session`` commits or rolls back (once per session)."""
    held = session.info.setdefault("evidence_locks", {})
    if detection_id in held and held[detection_id].fh is not None:
        return
    lock = _DetectionLock(home / "evidence" / "locks" / f"{detection_id}.lock")
    lock.acquire(LOCK_WAIT_S)
    held[detection_id] = lock
    for name in ("after_commit", "after_rollback", "after_soft_rollback"):
        event.listen(session, name, lock.release)


def _abort_on_rollback(session: Session, home: Path, entry: dict) -> None:
    """Phase two of the entry: if ``session`` rolls back instead of committing, record the abort."""
    pending = session.info.setdefault("ledger_pending", [])
    pending.append(entry)
    if len(pending) > 1:
        return            # the listeners are already there for this transaction

    def committed(sess) -> None:
        sess.info.pop("ledger_pending", None)

    def rolled_back(sess, *_args) -> None:
        for e in sess.info.pop("ledger_pending", []):
            ledger.abort(home, e, "the store transaction that was to record this bundle rolled back")

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_rollback", rolled_back, once=True)


def build_bundle(session: Session, detection_id: str, *, home: Path | None = None,
                 timestamper=None) -> Bundle:
    """The detection's evidence bundle, built and entered in the ledger once (idempotent).

    Safe with several writers: see the module's notes on locking.
    """
    existing = session.scalar(select(EvidenceBundle).where(EvidenceBundle.detection_id == detection_id))
    if existing is not None:
        return existing
    home = Path(home or settings.get().home)
    _lock_detection(session, home, detection_id)
    # look again under the lock: another writer may have committed the bundle meanwhile
    existing = session.scalar(select(EvidenceBundle).where(EvidenceBundle.detection_id == detection_id)
                              .execution_options(populate_existing=True))
    if existing is not None:
        return existing
    det = session.get(Detection, detection_id)
    if det is None:
        raise NotFound(f"no detection {detection_id!r}")
    clip = det.clip
    sources = [("clip", clip.media_path, clip.media_sha256, True),
               ("original", clip.original_path, clip.original_sha256, False),
               ("screenshot", clip.screenshot_path, clip.screenshot_sha256, False),
               ("network", clip.warc_path, clip.warc_sha256, False),
               ("page", clip.html_path, clip.html_sha256, False)]
    files: dict[str, dict] = {}
    not_captured: list[str] = []
    for name, rel, recorded, required in sources:
        if not rel:
            if required:
                raise EvidenceError(f"clip {clip.id} has no captured media; nothing to bundle")
            not_captured.append(name)
            continue
        src = _captured_file(home, rel)
        if src is None:
            raise EvidenceError(f"{name} of clip {clip.id} is missing: {rel}")
        sha = ledger.file_sha256(src)
        if recorded and recorded != sha:
            raise EvidenceError(f"{name} of clip {clip.id} changed since capture: {rel} has "
                                f"SHA-256 {sha}, capture recorded {recorded}")
        files[name + _suffix(rel)] = {"sha256": sha, "bytes": src.stat().st_size,
                                            "path": _store_object(home, src, sha), "source": rel}
    meta = metadata(det, files, not_captured)
    meta_path, meta_sha = _put_bytes(home, json.dumps(meta, indent=2, ensure_ascii=False,
                                                      sort_keys=True).encode("utf-8"), ".json")
    files["metadata.json"] = {"sha256": meta_sha, "bytes": (home / meta_path).stat().st_size,
                              "path": meta_path}
    bundle_id = new_id()
    manifest = {"bundle_id": bundle_id, "detection_id": det.id, "clip_id": clip.id,
                "work_id": det.work_id, "files": files, "created_at": meta["bundled_at"]}
    man_bytes = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
    man_path, man_sha = _put_bytes(home, man_bytes, ".json")   # content-addressed: never overwritten
    man_rel = Path(man_path)
    ts = timestamper if timestamper is not None else Timestamper.from_settings()
    entry_files = {name: {"sha256": m["sha256"], "path": m["path"]} for name, m in files.items()}
    entry_files["manifest.json"] = {"sha256": man_sha, "path": man_rel.as_posix()}
    entry = ledger.append(home, {"kind": "evidence_bundle", "bundle_id": bundle_id,
                                 "detection_id": det.id, "files": entry_files,
                                 "software": __version__}, timestamper=ts)
    _abort_on_rollback(session, home, entry)
    bundle = EvidenceBundle(id=bundle_id, detection_id=det.id, manifest_path=man_rel.as_posix(),
                            manifest_sha256=man_sha, files=files, ledger_seq=entry["seq"],
                            ledger_hash=entry["hash"], timestamped="tst" in entry)
    session.add(bundle)
    session.flush()
    return bundle


def bundle_for(session: Session, detection_id: str) -> Bundle | None:
    return session.scalar(select(EvidenceBundle).where(EvidenceBundle.detection_id == detection_id))
