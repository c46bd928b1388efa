"""The protected catalog: the works table and the fingerprint index, kept in step.

The index (``<home>/index``) holds fingerprints; the ``works`` table holds what a
person and a letter need (title, artist, ISRC, owner, source file). Every change
goes to the index first and to the table second, and both are idempotent, so a
crash between the two is repaired by running the same command again.

A recording already in the catalog under another id is refused at import (same
file, or the same fingerprints: excerpts of the new file match the existing work
at its own pitch and tempo), naming the existing work: attribution cannot be
taken over by importing a copy under a new id. Where the new id truly is another
version of it (a remaster, a licensed re-release), the caller says so with
``versions_of={new_id: existing_id}``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping

from sqlalchemy import func, select

from earwitness.kernel import settings
from earwitness.kernel.store import Store
from earwitness.kernel.store.models import Detection, Work, utcnow
from matchers.audio import load_audio
from matchers.catalog import CatalogEntry, ImportOutcome, import_entries, read_manifest
from matchers.config import DEFAULT, DEFAULT_QUERY, FingerprintConfig
from matchers.fingerprint import file_sha256
from matchers.errors import AudioError, CatalogError
from matchers.index import FingerprintIndex
from matchers.match import Matcher

# a copy of a recording matches itself at its own pitch and tempo in every excerpt
EXCERPTS = (0.2, 0.5, 0.8)      # where excerpts are taken, as a fraction of the file's length
EXCERPT_S = 8.0
SAME_PITCH_SEMITONES = 0.3
SAME_TEMPO = 0.02


def index_path() -> Path:
    return settings.get().path("index")


def fingerprint_config() -> FingerprintConfig:
    """The fingerprint settings, with the ``fingerprint`` section (key family, tuples per anchor) applied."""
    section = settings.get().section("fingerprint")
    return replace(DEFAULT, **{k: section[k] for k in ("points", "neighbours", "triplets_per_anchor")})


def open_index(*, create: bool = True) -> FingerprintIndex:
    return FingerprintIndex.open(index_path(), fingerprint_config(), create=create)


def import_manifest(store: Store, manifest: str | Path, *,
                    progress: Callable[[ImportOutcome], None] | None = None,
                    versions_of: Mapping[str, str] | None = None) -> list[ImportOutcome]:
    """Import a manifest into the index and the works table; returns one outcome per entry."""
    return import_catalog(store, read_manifest_file(manifest), progress=progress, versions_of=versions_of)


def read_manifest_file(manifest: str | Path) -> list[CatalogEntry]:
    """The manifest's entries; a file that is not UTF-8 is a CatalogError naming it and where."""
    try:
        return read_manifest(manifest)
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{manifest}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                           f"save the manifest as UTF-8 and import it again") from None


def existing_recording(index: FingerprintIndex, matcher: Matcher, entry: CatalogEntry) -> str | None:
    """The id of a work already in the index that is this entry's recording under another id, or None.

    Same file (SHA-256), or every excerpt of the new file matched to one other
    work at its own pitch and tempo, at consistent offsets (the matcher's public API).
    """
    if not entry.path.is_file():
        return None
    sha = file_sha256(entry.path)
    for work_id in index.work_ids():
        if work_id != entry.track_id and index.info(work_id).sha256 == sha:
            return work_id
    if entry.track_id in index and index.info(entry.track_id).sha256 == sha:
        return None                     # unchanged: nothing new enters the catalog
    try:
        y = load_audio(entry.path, sr=matcher.cfg.sample_rate)
    except AudioError:
        return None                     # import_entries reports the unreadable file
    sr = matcher.cfg.sample_rate
    n = int(EXCERPT_S * sr)
    starts = [int(f * len(y)) - n // 2 for f in EXCERPTS] if len(y) > 3 * n else [0]
    found: set[str] = set()
    shifts: list[float] = []
    for start in starts:
        start = max(0, min(start, len(y) - n))
        best = next((m for m in matcher.reported(y[start:start + n]) if m.work_id != entry.track_id), None)
        if best is None or abs(best.pitch_semitones) > SAME_PITCH_SEMITONES \
                or abs(best.tempo_ratio - 1.0) > SAME_TEMPO:
            return None
        found.add(best.work_id)
        shifts.append(best.ref_offset_s - start / sr)
    if len(found) == 1 and max(shifts) - min(shifts) <= 1.0:
        return found.pop()
    return None


def import_catalog(store: Store, entries: list[CatalogEntry], *,
                   progress: Callable[[ImportOutcome], None] | None = None,
                   versions_of: Mapping[str, str] | None = None) -> list[ImportOutcome]:
    """Import entries into the index and the works table; a recording already there under another id is refused."""
    index = open_index()
    versions_of = dict(versions_of or {})
    refused: list[ImportOutcome] = []
    accepted: list[CatalogEntry] = []
    matcher = Matcher(index, DEFAULT_QUERY) if len(index) else None
    for entry in entries:
        same = existing_recording(index, matcher, entry) if matcher is not None else None
        if same is not None and versions_of.get(entry.track_id) != same:
            with store.session() as s:
                work = s.get(Work, same)
            name = f"{same!r}" + (f" ({work.title} / {work.artist})" if work is not None and work.title else "")
            out = ImportOutcome(entry, "failed", error=(
                f"{entry.path} is already in the catalog as work {name}; import it under that id, or, if it "
                f"truly is another version of that work, say so: --version-of {entry.track_id}={same}"))
            refused.append(out)
            if progress:
                progress(out)
        else:
            accepted.append(entry)
    outcomes = import_entries(index, accepted, progress=progress)
    with store.session() as s:
        for out in outcomes:
            if out.status == "failed":
                continue
            e = out.entry
            work = s.get(Work, e.track_id) or Work(id=e.track_id)
            work.title, work.artist, work.isrc, work.owner = e.title, e.artist, e.isrc, e.owner
            work.aliases = list(e.aliases)
            work.source_path = str(e.path.resolve())
            work.audio_sha256 = out.sha256
            work.duration_s = out.duration_s
            s.add(work)
    return refused + outcomes


@dataclass(frozen=True)
class RemoveOutcome:
    work_id: str
    removed_from_index: bool
    kept_record: bool       # metadata kept because detections or cases refer to it


def remove_work(store: Store, work_id: str) -> RemoveOutcome:
    """Remove a work's fingerprints from the index (deleted from disk), and its record unless history needs it."""
    index = open_index()
    known = work_id in index
    with store.session() as s:
        work = s.get(Work, work_id)
        if work is None and not known:
            raise CatalogError(f"no work with id {work_id!r}")
    removed = bool(index.remove([work_id]))
    with store.session() as s:
        work = s.get(Work, work_id)
        referenced = bool(s.scalar(select(func.count()).select_from(Detection).where(Detection.work_id == work_id)))
        if work is not None and not referenced:
            s.delete(work)
        elif work is not None:
            work.updated_at = utcnow()
    return RemoveOutcome(work_id, removed, referenced)


def list_works(store: Store) -> list[tuple[Work, bool]]:
    """Every work in the table with whether it is in the index."""
    index = open_index()
    with store.session() as s:
        return [(w, w.id in index) for w in s.scalars(select(Work).order_by(Work.id))]
