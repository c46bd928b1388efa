"""The seam between the web app and the rest of Earwitness.

Reads (queues, listings, counts) are queries on the records; every change
(confirm, reject, case events, letters, exports, ledger checks) goes through the
owning package's functions (:mod:`notices.review`, :mod:`notices.cases`,
:mod:`notices.letters`, :mod:`notices.export`, :mod:`notices.ledger`) so the web
app never bypasses their rules or their audit trail. The alignment picture's
points come from the ``alignment`` service the application layer hands in
(:mod:`webapp.services`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from earwitness.kernel.store.case_models import Case, case_detections
from earwitness.kernel.store.models import Clip, Detection, Work
from webapp.services import services

log = logging.getLogger(__name__)

# "licensed": the matcher found a licensed upload; it never enters the queue but is counted
REVIEW_STATES = ("pending", "confirmed", "rejected", "licensed")


# --- review queue ---------------------------------------------------------------------

@dataclass
class QueueFilter:
    """The review queue's filters, parsed from a query string; bad values are reported, not fatal."""

    state: str = "pending"
    platform: str | None = None
    work: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    since: date | None = None
    until: date | None = None
    errors: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args) -> "QueueFilter":
        errors: list[str] = []

        def num(key):
            raw = (args.get(key) or "").strip()
            if not raw:
                return None
            try:
                return float(raw)
            except ValueError:
                errors.append(f"{key}: {raw!r} is not a number")
                return None

        def day(key):
            raw = (args.get(key) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                errors.append(f"{key}: {raw!r} is not a date (YYYY-MM-DD)")
                return None

        state = args.get("state") or "pending"
        if state not in REVIEW_STATES + ("all",):
            errors.append(f"state: {state!r} is not one of {', '.join(REVIEW_STATES)}, all")
            state = "pending"
        return cls(state=state, platform=(args.get("platform") or None), work=(args.get("work") or None),
                   min_score=num("min_score"), max_score=num("max_score"), since=day("since"),
                   until=day("until"), errors=tuple(errors))

    def query_args(self) -> dict[str, str]:
        out = {"state": self.state, "platform": self.platform, "work": self.work,
               "min_score": self.min_score, "max_score": self.max_score,
               "since": self.since and self.since.isoformat(), "until": self.until and self.until.isoformat()}
        return {k: ("%g" % v if isinstance(v, float) else v) for k, v in out.items() if v not in (None, "")}


def queue_query(f: QueueFilter):
    """Detections matching ``f``, oldest first (the order a queue is worked)."""
    q = (select(Detection).join(Detection.clip).join(Detection.work)
         .options(joinedload(Detection.clip), joinedload(Detection.work)))
    if f.state != "all":
        q = q.where(Detection.review_state == f.state)
    if f.platform:
        q = q.where(Clip.platform == f.platform)
    if f.work:
        q = q.where(Detection.work_id == f.work)
    if f.min_score is not None:
        q = q.where(Detection.score >= f.min_score)
    if f.max_score is not None:
        q = q.where(Detection.score <= f.max_score)
    if f.since:
        q = q.where(Detection.created_at >= datetime.combine(f.since, time(), timezone.utc))
    if f.until:
        q = q.where(Detection.created_at < datetime.combine(f.until + timedelta(days=1), time(), timezone.utc))
    return q.order_by(Detection.created_at, Detection.id)


def queue(session: Session, f: QueueFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[Detection], int]:
    """One page of the queue and the total count."""
    q = queue_query(f)
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    return list(session.scalars(q.limit(limit).offset(offset)).unique()), int(total or 0)


def neighbours(session: Session, f: QueueFilter, detection_id: str) -> tuple[str | None, str | None]:
    """The ids before and after ``detection_id`` in the filtered queue's order (it may have left the queue).

    Keyset queries on (created_at, id), one row each, instead of listing the whole queue.
    """
    det = session.get(Detection, detection_id)
    if det is None:
        return None, None
    at, key = det.created_at, det.id
    ids = queue_query(f).with_only_columns(Detection.id)
    before = ids.where(or_(Detection.created_at < at, and_(Detection.created_at == at, Detection.id < key)))
    after = ids.where(or_(Detection.created_at > at, and_(Detection.created_at == at, Detection.id > key)))
    prev_id = session.scalar(before.order_by(None).order_by(Detection.created_at.desc(), Detection.id.desc()).limit(1))
    next_id = session.scalar(after.limit(1))
    return prev_id, next_id


def facets(session: Session) -> dict[str, list]:
    """Values for the filter menus: platforms and works that have detections."""
    platforms = list(session.scalars(select(Clip.platform).join(Detection, Detection.clip_id == Clip.id)
                                     .distinct().order_by(Clip.platform)))
    works = list(session.execute(select(Work.id, Work.title).join(Detection, Detection.work_id == Work.id)
                                 .distinct().order_by(Work.title)))
    return {"platforms": platforms, "works": works}


# --- cases -------------------------------------------------------------------------------

def case_of(session: Session, detection_id: str):
    """The case a detection belongs to, if one exists."""
    return session.scalar(select(Case).join(case_detections).where(case_detections.c.detection_id == detection_id))


# --- alignment ---------------------------------------------------------------------------

def alignment(session: Session, detection_id: str) -> dict | None:
    """Peak coordinates and matched pairs from the matcher, or None where it cannot say."""
    try:
        return services().alignment(session, detection_id)
    except Exception as exc:  # the picture still shows the spectrograms without points
        log.warning("alignment for detection %s unavailable: %s", detection_id, exc)
        return None


# --- overview ------------------------------------------------------------------------------

def review_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Detection.review_state, func.count()).group_by(Detection.review_state))
    counts = {state: 0 for state in REVIEW_STATES}
    counts.update({state: n for state, n in rows})
    return counts


def detections_by_platform(session: Session) -> dict[str, dict[str, int]]:
    rows = session.execute(select(Clip.platform, Detection.review_state, func.count())
                           .join(Detection, Detection.clip_id == Clip.id)
                           .group_by(Clip.platform, Detection.review_state))
    out: dict[str, dict[str, int]] = {}
    for platform, state, n in rows:
        out.setdefault(platform, {s: 0 for s in REVIEW_STATES})[state] = n
    return dict(sorted(out.items()))


def cases_by_state_platform(session: Session) -> tuple[list[str], dict[str, dict[str, int]]]:
    """(states, {platform: {state: n}}) over cases."""
    rows = list(session.execute(select(Case.platform, Case.state, func.count())
                                .group_by(Case.platform, Case.state)))
    states = sorted({state for _, state, _ in rows})
    out: dict[str, dict[str, int]] = {}
    for platform, state, n in rows:
        out.setdefault(platform, {})[state] = n
    return states, dict(sorted(out.items()))


def detections_per_day(session: Session, *, days: int = 30, today: date | None = None) -> list[tuple[date, dict[str, int]]]:
    """Detections created per UTC day for the last ``days`` days, split by review state."""
    today = today or datetime.now(timezone.utc).date()
    start = today - timedelta(days=days - 1)
    rows = session.execute(select(Detection.created_at, Detection.review_state)
                           .where(Detection.created_at >= datetime.combine(start, time(), timezone.utc)))
    series = {start + timedelta(days=i): {s: 0 for s in REVIEW_STATES} for i in range(days)}
    for created, state in rows:
        d = created.astimezone(timezone.utc).date()
        if d in series:
            series[d][state] = series[d].get(state, 0) + 1
    return list(series.items())


