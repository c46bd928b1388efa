"""Catalog manifests and importing works into an index.

A manifest is a CSV with ``track_id,path`` required and ``title,artist,isrc,owner,aliases``
optional (aliases separated by ``|``); relative paths are read from the manifest's
folder. Import is idempotent: a work whose file hash is already indexed is skipped,
a changed file replaces its work. Works are written in batches, each batch one
atomic index change, so an interrupted import keeps every finished batch and never
leaves a half-written one.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from matchers.audio import DEFAULT_MAX_DURATION_S
from matchers.errors import AudioError, CatalogError
from matchers.fingerprint import file_sha256, fingerprint_file
from matchers.index import FingerprintIndex, WorkFingerprint

REQUIRED_COLUMNS = ("track_id", "path")
OPTIONAL_COLUMNS = ("title", "artist", "isrc", "owner", "aliases")
BATCH_AUDIO_S = 3 * 3600.0   # one index segment per this much audio during an import


@dataclass(frozen=True)
class CatalogEntry:
    track_id: str
    path: Path
    title: str | None = None
    artist: str | None = None
    isrc: str | None = None
    owner: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one entry: ``added``, ``replaced``, ``unchanged`` or ``failed`` (with ``error``)."""

    entry: CatalogEntry
    status: str
    error: str | None = None
    duration_s: float | None = None
    n_hashes: int | None = None
    sha256: str | None = None


def read_manifest(path: str | os.PathLike) -> list[CatalogEntry]:
    """Parse a manifest; raises CatalogError naming the line for missing columns, empty or duplicate ids."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: no such manifest")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in cols]
        if missing:
            raise CatalogError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(cols) or 'none'})")
        entries, seen = [], set()
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            tid, p = row.get("track_id", ""), row.get("path", "")
            if not tid or not p:
                raise CatalogError(f"{path}:{line}: track_id and path must not be empty")
            if tid in seen:
                raise CatalogError(f"{path}:{line}: duplicate track_id {tid!r}")
            seen.add(tid)
            file = Path(p) if Path(p).is_absolute() else path.parent / p
            aliases = tuple(a.strip() for a in row.get("aliases", "").split("|") if a.strip())
            entries.append(CatalogEntry(tid, file, row.get("title") or None, row.get("artist") or None,
                                        row.get("isrc") or None, row.get("owner") or None, aliases))
    return entries


def import_entries(index: FingerprintIndex, entries: Iterable[CatalogEntry], *,
                   max_duration_s: float = DEFAULT_MAX_DURATION_S,
                   progress: Callable[[ImportOutcome], None] | None = None) -> list[ImportOutcome]:
    """Fingerprint and index every entry that is new or changed; a bad file fails alone."""
    outcomes: list[ImportOutcome] = []
    batch: list[tuple[CatalogEntry, WorkFingerprint, str]] = []
    batch_s = 0.0
    flushed_batches = 0

    def flush() -> None:
        nonlocal batch, batch_s
        if batch:
            index.add([fp for _, fp, _ in batch])
            for entry, fp, status in batch:
                out = ImportOutcome(entry, status, duration_s=fp.duration_s, n_hashes=len(fp.keys), sha256=fp.sha256)
                outcomes.append(out)
                if progress:
                    progress(out)
        batch, batch_s = [], 0.0

    for entry in entries:
        try:
            sha = file_sha256(entry.path) if entry.path.is_file() else None
            if sha is not None and entry.track_id in index and index.info(entry.track_id).sha256 == sha:
                info = index.info(entry.track_id)
                out = ImportOutcome(entry, "unchanged", duration_s=info.duration_s, n_hashes=info.n_hashes, sha256=sha)
                outcomes.append(out)
                if progress:
                    progress(out)
                continue
            fp = fingerprint_file(entry.track_id, entry.path, index.config, max_duration_s=max_duration_s)
        except (AudioError, OSError) as exc:
            reason = exc.reason if isinstance(exc, AudioError) else str(exc)
            out = ImportOutcome(entry, "failed", error=reason)
            outcomes.append(out)
            if progress:
                progress(out)
            continue
        batch.append((entry, fp, "replaced" if entry.track_id in index else "added"))
        batch_s += fp.duration_s
        if batch_s >= BATCH_AUDIO_S:
            flush()
            flushed_batches += 1
    flush()
    if flushed_batches:  # a large import wrote several segments: one segment answers fastest
        index.compact()
    return outcomes
