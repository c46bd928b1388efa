"""Build Elasticsearch documents from SQL records, by index family.

A document is the record's flat :meth:`Base.to_document`, enriched where
analysts need context without joins: a detection carries its work's title,
artist and owner and its clip's platform, URL and uploader; a case carries what
its record class exposes plus ``is_open`` and ``time_to_removal_h``. The
document id is the record's primary key (the outbox's ``entity_id``), so
sending a record twice leaves one document.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, selectinload

from crawler import models as _crawler_models  # noqa: F401  (registers the canary's site_checks family)
from earwitness.kernel.store.models import Base, Clip, Detection, Work
from notices.lifecycle import TERMINAL

def families() -> dict[str, type]:
    """Every record class with ``__outbox__``, by family."""
    out: dict[str, type] = {}
    for mapper in Base.registry.mappers:
        fam = getattr(mapper.class_, "__outbox__", None)
        if fam:
            out.setdefault(fam, mapper.class_)
    return out


def _key(obj) -> str:
    return "/".join(str(v) for v in inspect(obj).identity)


def _eager(cls: type) -> list:
    """Load the relationships a family's document reads in one query each, not one per row."""
    if cls is Detection:
        return [selectinload(Detection.work), selectinload(Detection.clip)]
    if cls is Clip:
        return [selectinload(Clip.detections)]
    rels = inspect(cls).relationships
    opts = []
    if "detections" in rels:
        attr = getattr(cls, "detections")
        opts.append(selectinload(attr).selectinload(Detection.work))
    for name in ("events", "cases"):
        if name in rels:
            opts.append(selectinload(getattr(cls, name)))
    return opts


def _load(session: Session, cls: type, ids: list[str]) -> dict[str, Any]:
    pk = inspect(cls).primary_key
    if len(pk) == 1:
        found = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for obj in session.scalars(select(cls).where(pk[0].in_(chunk)).options(*_eager(cls))):
                found[_key(obj)] = obj
        return found
    found = {}
    for key in ids:
        obj = session.get(cls, tuple(key.split("/")))
        if obj is not None:
            found[key] = obj
    return found


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def detection_doc(det: Detection) -> dict[str, Any]:
    doc = det.to_document()
    work: Work | None = det.work
    clip: Clip | None = det.clip
    if work is not None:
        doc.update(work_title=work.title, work_artist=work.artist, work_owner=work.owner,
                   work_isrc=work.isrc)
    if clip is not None:
        doc.update(platform=clip.platform, clip_url=clip.url, clip_media_id=clip.media_id,
                   clip_title=clip.title, uploader=clip.uploader, published_at=_iso(clip.published_at),
                   captured_at=_iso(clip.captured_at), is_live=clip.is_live, licensed=clip.licensed,
                   view_count=clip.view_count)
    return doc


def clip_doc(clip: Clip) -> dict[str, Any]:
    doc = clip.to_document()
    doc["detection_count"] = len(clip.detections)
    return doc


def case_doc(case: Any) -> dict[str, Any]:
    """A case: its columns, whether it is open, hours from notice to removal, its works."""
    doc = case.to_document()
    doc["is_open"] = case.state not in TERMINAL
    start = getattr(case, "sent_at", None) or getattr(case, "opened_at", None)
    removed = getattr(case, "removed_at", None)
    if isinstance(start, datetime) and isinstance(removed, datetime):
        doc["time_to_removal_h"] = round((removed - start).total_seconds() / 3600.0, 3)
    dets = list(getattr(case, "detections", None) or ())
    works = []
    for det in dets:
        if det.work is not None and det.work not in works:
            works.append(det.work)
    doc["work_ids"] = [w.id for w in works]
    doc["work_titles"] = [w.title for w in works if w.title]
    doc["detection_count"] = len(dets)
    events = getattr(case, "events", None)
    if events is not None:
        doc["event_count"] = len(events)
    return doc


def notice_doc(notice: Any) -> dict[str, Any]:
    doc = notice.to_document()
    cases = list(getattr(notice, "cases", None) or ())
    doc["case_ids"] = [c.id for c in cases]
    doc["case_count"] = len(cases)
    return doc


def _dependents(session: Session, family: str, ids: list[str]) -> dict[str, set[str]]:
    """Records whose documents embed these records (a work's or clip's detections)."""
    if family == "works":
        col = Detection.work_id
    elif family == "clips":
        col = Detection.clip_id
    else:
        return {}
    dets = set()
    for start in range(0, len(ids), 500):
        dets.update(session.scalars(select(Detection.id).where(col.in_(ids[start:start + 500]))))
    return {"detections": dets} if dets else {}


BUILDERS = {"detections": detection_doc, "clips": clip_doc, "cases": case_doc, "notices": notice_doc}


def finite(doc: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats (a score of ``inf``) have no JSON form: stored as null, named in ``nonfinite``."""
    bad = [k for k, v in doc.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        doc = {**doc, **{k: None for k in bad}, "nonfinite": {k: str(doc[k]) for k in bad}}
    return doc


def build(session: Session, family: str, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Documents for ``ids`` of one family; None for a record that no longer exists."""
    cls = families().get(family)
    if cls is None:
        raise LookupError(f"no record class declares __outbox__ = {family!r}")
    found = _load(session, cls, ids)
    make = BUILDERS.get(family, lambda obj: obj.to_document())
    return {key: (finite(make(found[key])) if key in found else None) for key in ids}


def dependents(session: Session, family: str, ids: list[str]) -> dict[str, set[str]]:
    """Other documents to refresh when these records changed."""
    out = _dependents(session, family, ids)
    event_cls = families().get("case_events")
    if family == "case_events" and event_cls is not None:   # an event changes its case's count
        cases = set(session.scalars(select(event_cls.case_id).where(event_cls.id.in_(ids))))
        if cases:
            out["cases"] = cases
    if family == "detections":  # a detection changes its clip's detection_count
        clips = set(session.scalars(select(Detection.clip_id).where(Detection.id.in_(ids))))
        if clips:
            out["clips"] = clips
    return out
