"""Re-check: are the items we sent notices about gone yet?

Cases in ``notices_sent`` not checked for ``notices.recheck_interval_hours`` are
visited by the ``probe`` the application hands in (the crawler's fetch path,
:func:`crawler.recheck.probe`): any callable ``probe(url, platform)`` returning an
object with ``gone``, ``reason``, ``http_status``, ``checked_at``, ``audio_path`` and
``outcome`` (the crawler's taxonomy: up, gone, private, geo_blocked, blocked,
needs_login, transient, broken, offline).

Every probe is kept as a ``recheck`` event with what the platform answered (and the page
it answered with). A case moves to ``removed`` only when the platform said ``gone``
``removal_confirmations`` times in a row, the first and the last at least
``removal_span_hours`` apart (one 404 may be a glitch; a legal record must not say
"removed" on it), or when ``audio_check`` says the re-fetched audio no longer holds the
case's works. An ``up`` answer starts the count again; walls (``blocked``,
``needs_login``) and errors say nothing about the item: they never move a case and
neither count nor break a run of ``gone``. A case past its SLA shows as overdue.

The loop contains each case: one whose check raises (a broken record, a probe that
crashed, a case another writer moved meanwhile) is rolled back alone, named with its
reason in the result, and the loop goes on; the run's ``status`` is then ``partial``
(``failed`` when no case could be checked), never ``ok``. A ``stop`` event (the
daemon's shutdown) or ``deadline_s`` ends the loop between cases: the case in hand is
finished or rolled back, and the cases left are still due, so the next run resumes them.

A removal is not the end: removed, resolved and restored cases are re-checked every
``recheck_after_removal_hours`` (:func:`recheck_after_removal`, run by the same daemon
job). An item found up again after its verified removal (``up`` answered
``removal_confirmations`` times in a row, ``removal_span_hours`` apart, like a
removal; and, with ``audio_check``, still holding the works) takes ``reappeared`` and
goes back to ``notice_sent``, to be re-checked like any sent notice; while a run of
``up`` answers is building, the case is probed at the ordinary interval. A restored
case (put back after a dispute) is only recorded: it is up by right.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from threading import Event
from typing import Callable

from sqlalchemy import or_, select

from earwitness.kernel import settings
from earwitness.kernel.store.models import utcnow
from notices import cases, config, lifecycle
from notices.case_engine import CaseConflict
from earwitness.kernel.store.case_models import Case

log = logging.getLogger(__name__)
ACTOR = "recheck"


@dataclass
class RecheckResult:
    checked: int = 0
    removed: int = 0
    still_up: int = 0
    errors: int = 0            # the probe learnt nothing about the item (walls, network, broken)
    overdue: int = 0
    gone_pending: int = 0      # said gone, not yet confirmed (see removal_confirmations)
    failed: int = 0            # the check itself failed (rolled back, named in ``failures``)
    skipped: int = 0           # moved by another writer while it was being checked
    stopped: bool = False      # ended by ``stop`` or the deadline, ``left`` cases still due
    stopped_by: str | None = None
    left: int = 0
    failures: list[str] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok``; ``partial`` when a case failed, every probe was inconclusive while others were
        not, or the deadline left cases unchecked; ``failed`` when no case could be checked at all."""
        attempted = self.checked + self.failed
        if attempted and (self.failed == attempted or self.errors == attempted):
            return "failed"
        if self.failed or self.errors or (self.stopped_by == "deadline" and self.left):
            return "partial"
        return "ok"

    def reason(self) -> str | None:
        parts = list(self.failures[:3])
        if self.errors:
            parts.append(f"{self.errors} of {self.checked} re-checks inconclusive (walls, network)")
        if self.stopped:
            parts.append(f"stopped by the {self.stopped_by}: {self.left} due cases left for the next run")
        return "; ".join(parts) or None

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "details"}
        out["status"], out["reason"] = self.status, self.reason()
        return out


def due(session, *, now: datetime | None = None) -> list[Case]:
    now = now or utcnow()
    hours = float(config.get("recheck_interval_hours"))
    cutoff = now - timedelta(hours=hours)
    q = (select(Case).where(Case.state == "notice_sent")
         .where(or_(Case.last_checked_at.is_(None), Case.last_checked_at <= cutoff))
         .order_by(Case.sent_at))
    return list(session.scalars(q))


def _outcome(r) -> str:
    """The probe's taxonomy kind (probes from before the taxonomy: from gone / reason)."""
    kind = getattr(r, "outcome", None)
    if kind:
        return kind
    return "gone" if r.gone else ("transient" if r.reason == "error" else "up")


def answer_run(case: Case, kept: str, ends: str, episodes: tuple[str, ...]) -> list[dict]:
    """The checks of the case's latest unbroken run of ``kept`` answers (oldest first): an
    ``ends`` answer or an ``episodes`` event (earlier answers are spent) starts it over; every
    other answer (walls, errors) is skipped."""
    run: list[dict] = []
    for ev in case.events:
        if ev.event in episodes:
            run = []
            continue
        check = (ev.details or {}).get("check") if ev.event == "recheck" else None
        if not check:
            continue
        kind = check.get("outcome") or ("transient" if check.get("reason") == "error" else "up")
        if kind == kept:
            run.append(check)
        elif kind == ends:
            run = []
    return run


def gone_run(case: Case) -> list[dict]:
    """The latest unbroken run of ``gone`` answers since the case last went or came back."""
    return answer_run(case, "gone", "up", ("verify_removed", "reappeared"))


def removal_confirmed(run: list[dict], at: datetime) -> bool:
    """Enough ``gone`` answers (``removal_confirmations``), far enough apart (``removal_span_hours``)."""
    need = int(config.get("removal_confirmations"))
    span = timedelta(hours=float(config.get("removal_span_hours")))
    if len(run) < max(1, need):
        return False
    first = datetime.fromisoformat(run[0]["checked_at"])
    first = first if first.tzinfo else first.replace(tzinfo=at.tzinfo)
    return at - first >= span


def recheck_due(store, *, probe: Callable, audio_check: Callable[[Case, Path], bool] | None = None,
                now: datetime | None = None, limit: int | None = None, stop: Event | None = None,
                deadline_s: float | None = None) -> RecheckResult:
    """Probe every case due for a re-check, one transaction per case; counts.

    ``audio_check(case, path)`` says whether re-fetched audio still holds one of the
    case's works; without it a probe's audio is kept in the record but not judged.
    """
    result = RecheckResult()
    ends = None if deadline_s is None else time.monotonic() + float(deadline_s)
    with store.session() as s:
        ids = [c.id for c in due(s, now=now)][:limit]
    for n, case_id in enumerate(ids):
        why_stop = ("stop signal" if stop is not None and stop.is_set()
                    else "deadline" if ends is not None and time.monotonic() >= ends else None)
        if why_stop:
            result.stopped, result.stopped_by, result.left = True, why_stop.split()[0], len(ids) - n
            log.info("re-check stopped by the %s: %d due cases left for the next run", why_stop, result.left)
            break
        try:
            with store.session() as s:
                checked = _check_one(s, case_id, probe=probe, audio_check=audio_check, now=now)
            if checked is not None:      # counted once committed, so a rolled-back case is only "failed"
                _count(result, checked)
        except CaseConflict as exc:   # a person moved the case meanwhile: their move stands
            log.info("case %s: %s", case_id, exc)
            result.skipped += 1
        except Exception as exc:  # noqa: BLE001 - one case's failure never stops the others
            reason = f"case {case_id}: {type(exc).__name__}: {exc}"
            log.warning("re-check of %s", reason)
            result.failed += 1
            if len(result.failures) < 20:
                result.failures.append(reason[:500])
    return result


def _count(result: RecheckResult, checked: dict) -> None:
    kind, gone = checked["outcome"], checked["removed"]
    result.checked += 1
    result.removed += gone
    if not gone:
        result.still_up += kind == "up"
        result.gone_pending += kind == "gone"
        result.errors += kind not in ("up", "gone")
        result.overdue += checked["overdue"]
    result.details.append(checked)


def _check_one(s, case_id: str, *, probe: Callable, audio_check: Callable[[Case, Path], bool] | None,
               now: datetime | None) -> dict | None:
    """Probe one case and record what the platform answered, in the caller's transaction; what
    was found (None when the case is no longer waiting for a re-check)."""
    case = s.get(Case, case_id)
    if case is None or case.state != "notice_sent":
        return None
    r = probe(case.url, case.platform)
    at = now or r.checked_at or utcnow()
    status = getattr(r, "http_status", None)
    kind = _outcome(r)
    check = {"outcome": kind, "reason": r.reason, "http_status": status, "url": case.url,
             "checked_at": at.isoformat(), "probed_at": (r.checked_at or at).isoformat(),
             "detail": (getattr(r, "detail", "") or "")[:500]}
    for key in ("page_path", "page_sha256", "audio_path", "audio_sha256"):
        if getattr(r, key, None):
            check[key] = getattr(r, key)
    gone = False
    if kind == "gone":
        run = gone_run(case) + [check]
        gone = removal_confirmed(run, at)
        check["gone_answers"] = len(run)
        if gone:
            check["gone_run"] = [{k: c.get(k) for k in ("checked_at", "reason", "http_status",
                                                         "page_sha256")} for c in run]
    if kind == "up" and audio_check is not None and getattr(r, "audio_path", None):
        path = settings.get().path(r.audio_path)
        try:
            if not audio_check(case, path):
                gone, check["reason"] = True, "audio_no_longer_matches"
        except Exception as exc:  # noqa: BLE001  a broken file is a failed check, not a crash
            log.warning("case %s: audio re-check failed: %s", case.id, exc)
            check["audio_error"] = str(exc)
    case.last_checked_at = at
    overdue = False
    if gone:
        cases.apply(s, case.id, "verify_removed", actor=ACTOR, at=at,
                    reason=f"re-check: {check['reason']}", check=check)
    else:
        overdue = case.is_overdue(at)
        if kind == "up":
            why = "still up"
        elif kind == "gone":
            why = (f"the platform says gone ({r.reason}); answer {check['gone_answers']} of "
                   f"{config.get('removal_confirmations')} needed, "
                   f"{config.get('removal_span_hours')} h apart, before it counts as removed")
        else:
            why = f"re-check inconclusive: {kind} ({r.reason})" + (
                f": {getattr(r, 'detail', '')}" if getattr(r, "detail", "") else "")
        cases.record(s, case.id, "recheck", actor=ACTOR, at=at,
                     reason=why + (" (overdue)" if overdue else ""), check=check, overdue=overdue)
    return {"case_id": case.id, **check, "removed": gone, "overdue": overdue}


# --- after removal: removed, resolved and restored cases keep being checked ------------------------

AFTER_REMOVAL = ("removed", "resolved", "restored")
CAN_REAPPEAR = tuple(lifecycle.TRANSITIONS["reappeared"].sources)


def up_run(case: Case) -> list[dict]:
    """The checks of the unbroken run of ``up`` answers since the case's latest verified removal."""
    return answer_run(case, "up", "gone", ("verify_removed",))


def due_after_removal(session, *, now: datetime | None = None) -> list[Case]:
    """Removed, resolved and restored cases not checked for ``recheck_after_removal_hours`` (the
    ordinary ``recheck_interval_hours`` while a run of ``up`` answers is building)."""
    now = now or utcnow()
    slow = now - timedelta(hours=float(config.get("recheck_after_removal_hours")))
    fast = now - timedelta(hours=float(config.get("recheck_interval_hours")))
    q = (select(Case).where(Case.state.in_(AFTER_REMOVAL))
         .where(or_(Case.last_checked_at.is_(None), Case.last_checked_at <= fast))
         .order_by(Case.removed_at))
    out = []
    for case in session.scalars(q):
        building = case.state in CAN_REAPPEAR and bool(up_run(case))
        if case.last_checked_at is None or building or case.last_checked_at <= slow:
            out.append(case)
    return out


def _open_case_for_item(session, case: Case) -> Case | None:
    """Another case open for the same item before removal (a re-upload case), if any."""
    return session.scalars(select(Case).where(Case.platform == case.platform, Case.media_id == case.media_id,
                                              Case.id != case.id,
                                              Case.state.in_(("confirmed", "notice_drafted", "notice_sent")))
                           ).first()


def recheck_after_removal(store, *, probe: Callable, audio_check: Callable[[Case, Path], bool] | None = None,
                          now: datetime | None = None, limit: int | None = None, stop: Event | None = None,
                          deadline_s: float | None = None) -> dict:
    """Probe the removed, resolved and restored cases due; an item up again takes ``reappeared``.

    One transaction per case, each contained like :func:`recheck_due` (a failing case is
    rolled back alone and named; ``stop`` and ``deadline_s`` end the loop between cases).
    Counts: checked, still_gone, up_again (answered ``up``, not yet confirmed),
    reappeared (back to ``notice_sent``), restored_checked, errors (walls and failures
    of the probe: nothing learnt), failed, skipped.
    """
    counts = dict.fromkeys(("checked", "still_gone", "up_again", "reappeared", "restored_checked", "errors",
                            "failed", "skipped"), 0)
    out: dict = {**counts, "stopped": False, "failures": [], "details": []}
    ends = None if deadline_s is None else time.monotonic() + float(deadline_s)
    with store.session() as s:
        ids = [c.id for c in due_after_removal(s, now=now)][:limit]
    for case_id in ids:
        if (stop is not None and stop.is_set()) or (ends is not None and time.monotonic() >= ends):
            out["stopped"] = True
            break
        try:
            with store.session() as s:
                checked = _check_after_removal(s, case_id, probe=probe, audio_check=audio_check, now=now)
            if checked is not None:
                out["checked"] += 1
                out[checked.pop("counted_as")] += 1
                out["details"].append(checked)
        except CaseConflict as exc:       # a person moved the case meanwhile: their move stands
            log.info("case %s: %s", case_id, exc)
            out["skipped"] += 1
        except Exception as exc:  # noqa: BLE001 - one case's failure never stops the others
            out["failed"] += 1
            if len(out["failures"]) < 20:
                out["failures"].append(f"case {case_id}: {type(exc).__name__}: {exc}"[:500])
    return out


def _check_after_removal(s, case_id: str, *, probe: Callable, audio_check: Callable[[Case, Path], bool] | None,
                         now: datetime | None) -> dict | None:
    """Probe one removed, resolved or restored case and record the answer (or move it back)."""
    case = s.get(Case, case_id)
    if case is None or case.state not in AFTER_REMOVAL:
        return None
    r = probe(case.url, case.platform)
    at = now or r.checked_at or utcnow()
    kind = _outcome(r)
    check = {"outcome": kind, "reason": r.reason, "http_status": getattr(r, "http_status", None),
             "url": case.url, "checked_at": at.isoformat(), "probed_at": (r.checked_at or at).isoformat(),
             "detail": (getattr(r, "detail", "") or "")[:500], "after_removal": True}
    for key in ("page_path", "page_sha256", "audio_path", "audio_sha256"):
        if getattr(r, key, None):
            check[key] = getattr(r, key)
    if kind == "up" and audio_check is not None and getattr(r, "audio_path", None):
        try:
            if not audio_check(case, settings.get().path(r.audio_path)):
                kind = check["outcome"] = "gone"          # the page is up, the works are not: still removed
                check["reason"] = "audio_no_longer_matches"
        except Exception as exc:  # noqa: BLE001  a broken file is a failed check, not a crash
            log.warning("case %s: audio re-check failed: %s", case.id, exc)
            check["audio_error"] = str(exc)
    case.last_checked_at = at
    if case.state == "restored":
        counted, why = "restored_checked", f"re-check of a restored item: {kind} ({r.reason})"
    elif kind == "up":
        run = up_run(case) + [check]
        check["up_answers"] = len(run)
        other = _open_case_for_item(s, case)
        if removal_confirmed(run, at) and other is None:
            check["up_run"] = [{k: c.get(k) for k in ("checked_at", "reason", "http_status", "page_sha256")}
                               for c in run]
            cases.apply(s, case.id, "reappeared", actor=ACTOR, at=at, check=check,
                        reason=f"the item is up again after its removal ({len(run)} answers)")
            return {"case_id": case.id, **check, "reappeared": True, "counted_as": "reappeared"}
        counted = "up_again"
        why = (f"up again after its removal; answer {len(run)} of {config.get('removal_confirmations')} "
               f"needed, {config.get('removal_span_hours')} h apart, before the case reopens"
               + (f"; case {other.id} is already open for this item" if other is not None else ""))
    elif kind == "gone":
        counted, why = "still_gone", f"still removed ({r.reason})"
    else:
        counted, why = "errors", f"re-check inconclusive: {kind} ({r.reason})"
    cases.record(s, case.id, "recheck", actor=ACTOR, at=at, reason=why, check=check)
    return {"case_id": case.id, **check, "reappeared": False, "counted_as": counted}
