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

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from earwitness.kernel.store.case_models import Case, case_detections
from earwitness.kernel.store.models import Clip, Detection, Work
from webapp.models import Claim
from webapp.params import Params
from webapp.services import services

log = logging.getLogger(__name__)

# "licensed": the matcher found a licensed upload; it never enters the queue but is counted
REVIEW_STATES = ("pending", "confirmed", "rejected", "licensed")


# --- review queue ---------------------------------------------------------------------

# sort name -> (label, column, descending); ties broken by id in the same direction
SORTS = {
    "age": ("oldest first", Detection.created_at, False),
    "newest": ("newest first", Detection.created_at, True),
    "score": ("highest score", Detection.score, True),
    "views": ("most views", func.coalesce(Clip.view_count, -1), True),
    "span": ("longest match", Detection.duration_s, True),
}
GROUPS = ("uploader", "work")
# fixed rejection reasons: the code goes first in the stored reason, so statistics can count them
REJECT_REASONS = {
    "voice_over": "voice-over only (no music)",
    "licensed": "licensed use",
    "different_work": "a different work",
    "not_music": "not music",
    "other": "other (note required)",
}


@dataclass
class QueueFilter:
    """The review queue's filters, search and sort, read from a query string (bad values: 400)."""

    state: str = "pending"
    platform: str | None = None
    work: str | None = None
    uploader: str | None = None
    audio: str | None = None
    search: str | None = None
    reviewer: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    since: date | None = None
    until: date | None = None
    sort: str = "age"
    unclaimed: bool = False
    kept: dict | None = None

    @classmethod
    def parse(cls, args, *, strict: bool = True) -> "QueueFilter":
        """Filters from ``args``; with ``strict`` a bad value answers 400 naming it."""
        p = Params(args)
        f = cls(state=p.choice("state", REVIEW_STATES + ("all",), default="pending"),
                platform=p.text("platform"), work=p.text("work"), uploader=p.text("uploader"),
                audio=p.text("audio"), search=p.text("q"), reviewer=p.text("reviewer"),
                min_score=p.number("min_score", lo=-1e9, hi=1e9), max_score=p.number("max_score", lo=-1e9, hi=1e9),
                since=p.day("since"), until=p.day("until"), sort=p.choice("sort", list(SORTS), default="age"),
                unclaimed=p.flag("unclaimed"))
        if strict:
            p.raise_errors()
        f.kept = p.args()
        return f

    def query_args(self) -> dict[str, str]:
        return dict(self.kept or {})


def _filtered(q, f: QueueFilter):
    if f.state != "all":
        q = q.where(Detection.review_state == f.state)
    if f.platform:
        q = q.where(Clip.platform == f.platform)
    if f.work:
        q = q.where(Detection.work_id == f.work)
    if f.uploader:
        q = q.where(Clip.uploader == f.uploader)
    if f.audio:
        q = q.where(Clip.audio_sha256 == f.audio)
    if f.reviewer:
        q = q.where(Detection.reviewed_by == f.reviewer)
    if f.search:
        like = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(Clip.title.ilike(like, escape="\\"), Clip.uploader.ilike(like, escape="\\"),
                        Clip.url.ilike(like, escape="\\"), Clip.media_id.ilike(like, escape="\\"),
                        Work.title.ilike(like, escape="\\")))
    if f.min_score is not None:
        q = q.where(Detection.score >= f.min_score)
    if f.max_score is not None:
        q = q.where(Detection.score <= f.max_score)
    if f.since:
        q = q.where(Detection.created_at >= datetime.combine(f.since, time(), timezone.utc))
    if f.until:
        q = q.where(Detection.created_at < datetime.combine(f.until + timedelta(days=1), time(), timezone.utc))
    if f.unclaimed:
        now = datetime.now(timezone.utc)
        q = q.where(~select(Claim.detection_id).where(Claim.detection_id == Detection.id,
                                                       Claim.expires_at > now).exists())
    return q


def queue_query(f: QueueFilter):
    """Detections matching ``f``, in its sort order (default: oldest first, the order a queue is worked)."""
    _, col, desc = SORTS[f.sort]
    q = (select(Detection).join(Detection.clip).join(Detection.work)
         .options(joinedload(Detection.clip), joinedload(Detection.work)))
    q = _filtered(q, f)
    return q.order_by(col.desc() if desc else col, Detection.id.desc() if desc else Detection.id)


def queue(session: Session, f: QueueFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[Detection], int]:
    """One page of the queue and the total count."""
    q = queue_query(f)
    count = select(func.count(Detection.id)).select_from(Detection)
    if f.platform or f.uploader or f.audio or f.search:     # only these look at the clip or the work
        count = count.join(Detection.clip).join(Detection.work)
    total = session.scalar(_filtered(count, f))
    return list(session.scalars(q.limit(limit).offset(offset)).unique()), int(total or 0)


def matching_ids(session: Session, f: QueueFilter, *, limit: int) -> list[str]:
    """The ids the filters select, in queue order, at most ``limit`` (a bulk action's scope)."""
    return list(session.scalars(queue_query(f).with_only_columns(Detection.id).limit(limit)))


def groups(session: Session, f: QueueFilter, by: str, *, limit: int = 50, offset: int = 0) -> tuple[list, int]:
    """The filtered detections grouped by uploader or work: key, label, count, best score, newest."""
    key = (Clip.uploader if by == "uploader" else Detection.work_id).label("key")
    label = (func.max(Clip.platform) if by == "uploader" else func.max(Work.title)).label("label")
    base = _filtered(select(key, label, func.count(Detection.id).label("n"), func.max(Detection.score).label("best"),
                            func.max(Detection.created_at).label("newest"))
                     .select_from(Detection).join(Detection.clip).join(Detection.work), f).group_by(key)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = list(session.execute(base.order_by(func.count(Detection.id).desc(), key).limit(limit).offset(offset)))
    return rows, int(total or 0)


def neighbours(session: Session, f: QueueFilter, detection_id: str) -> tuple[str | None, str | None]:
    """The ids before and after ``detection_id`` in the filtered queue's order (it may have left the queue).

    Keyset queries on (sort key, id), one row each, instead of listing the whole queue.
    """
    det = session.get(Detection, detection_id)
    if det is None:
        return None, None
    _, col, desc = SORTS[f.sort]
    at = session.scalar(select(col).select_from(Detection).join(Detection.clip).where(Detection.id == det.id))
    key = det.id
    ids = queue_query(f).with_only_columns(Detection.id)
    lower = or_(col < at, and_(col == at, Detection.id < key))
    higher = or_(col > at, and_(col == at, Detection.id > key))
    before, after = (higher, lower) if desc else (lower, higher)
    reverse = (col, Detection.id) if desc else (col.desc(), Detection.id.desc())
    prev_id = session.scalar(ids.where(before).order_by(None).order_by(*reverse).limit(1))
    next_id = session.scalar(ids.where(after).limit(1))
    return prev_id, next_id


# --- claims and reviewers ----------------------------------------------------------------

def claims(session: Session, detection_ids: list[str]) -> dict[str, Claim]:
    """Live claims on these detections, by detection id."""
    if not detection_ids:
        return {}
    now = datetime.now(timezone.utc)
    rows = session.scalars(select(Claim).where(Claim.detection_id.in_(detection_ids), Claim.expires_at > now))
    return {c.detection_id: c for c in rows}


def claim(session: Session, detection_id: str, user_name: str, *, minutes: float) -> Claim:
    """Reserve a detection for ``user_name`` unless someone else holds a live claim; returns the live claim."""
    now = datetime.now(timezone.utc)
    c = session.get(Claim, detection_id)
    if c is None:
        try:
            with session.begin_nested():   # two tabs opening it at once: the second finds the first's row
                c = Claim(detection_id=detection_id, user_name=user_name, claimed_at=now,
                          expires_at=now + timedelta(minutes=minutes))
                session.add(c)
            return c
        except IntegrityError:
            c = session.get(Claim, detection_id, populate_existing=True)
    if c.expires_at > now and c.user_name != user_name:
        return c
    if c.user_name != user_name or c.expires_at <= now:
        c.user_name, c.claimed_at = user_name, now
    c.expires_at = now + timedelta(minutes=minutes)
    session.flush()
    return c


def release(session: Session, detection_ids: list[str]) -> None:
    """Drop the claims on decided detections."""
    if detection_ids:
        session.execute(delete(Claim).where(Claim.detection_id.in_(detection_ids)))


def reviewer_counts(session: Session, *, since: datetime | None = None) -> list[tuple[str, dict[str, int]]]:
    """Per reviewer: how many detections they confirmed and rejected (since ``since``), busiest first."""
    q = (select(Detection.reviewed_by, Detection.review_state, func.count())
         .where(Detection.reviewed_by.is_not(None), Detection.review_state.in_(("confirmed", "rejected")))
         .group_by(Detection.reviewed_by, Detection.review_state))
    if since is not None:
        q = q.where(Detection.reviewed_at >= since)
    out: dict[str, dict[str, int]] = {}
    for who, state, n in session.execute(q):
        out.setdefault(who, {"confirmed": 0, "rejected": 0})[state] = n
    return sorted(out.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))


def rejection_reasons(session: Session) -> list[tuple[str, int]]:
    """Rejected detections per fixed reason code (the false-positive statistics), most first."""
    rows = session.scalars(select(Detection.review_reason).where(Detection.review_state == "rejected"))
    counts: dict[str, int] = {}
    for reason in rows:
        code = (reason or "").split(":", 1)[0].strip()
        code = code if code in REJECT_REASONS else "unclassified"
        counts[code] = counts.get(code, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


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
    # counted by the database, one row per day and state (times are stored in UTC)
    day = func.date(Detection.created_at)
    rows = session.execute(select(day, Detection.review_state, func.count())
                           .where(Detection.created_at >= datetime.combine(start, time(), timezone.utc))
                           .group_by(day, Detection.review_state))
    series = {start + timedelta(days=i): {s: 0 for s in REVIEW_STATES} for i in range(days)}
    for d, state, n in rows:
        d = date.fromisoformat(str(d)[:10])
        if d in series:
            series[d][state] = series[d].get(state, 0) + n
    return list(series.items())


