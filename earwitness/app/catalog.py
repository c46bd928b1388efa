"""The protected catalog: the works table and the fingerprint index, kept in step.

The index (``<home>/index``) holds fingerprints; the ``works`` table holds what a
person and a letter need (title, artist, ISRC, owner, source file). Every change
goes to the index first and to the table second, and both are idempotent, so a
crash between the two is repaired by running the same command again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select

from earwitness.kernel import settings
from earwitness.kernel.store import Store
from earwitness.kernel.store.models import Detection, Work, utcnow
from matchers.catalog import CatalogEntry, ImportOutcome, import_entries, read_manifest
from matchers.config import DEFAULT
from matchers.errors import CatalogError
from matchers.index import FingerprintIndex


def index_path() -> Path:
    return settings.get().path("index")


def open_index(*, create: bool = True) -> FingerprintIndex:
    return FingerprintIndex.open(index_path(), DEFAULT, create=create)


def import_manifest(store: Store, manifest: str | Path, *,
                    progress: Callable[[ImportOutcome], None] | None = None) -> list[ImportOutcome]:
    """Import a manifest into the index and the works table; returns one outcome per entry."""
    return import_catalog(store, read_manifest(manifest), progress=progress)


def import_catalog(store: Store, entries: list[CatalogEntry], *,
                   progress: Callable[[ImportOutcome], None] | None = None) -> list[ImportOutcome]:
    index = open_index()
    outcomes = import_entries(index, entries, progress=progress)
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
    return outcomes


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
