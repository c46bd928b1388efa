"""Re-check: are the items we sent notices about gone yet?

Cases in ``notices_sent`` not checked for ``notices.recheck_interval_hours`` are
visited by the ``probe`` the application hands in (the crawler's fetch path,
:func:`crawler.recheck.probe`): any callable ``probe(url, platform)`` returning an
object with ``gone``, ``reason``, ``http_status``, ``checked_at`` and ``audio_path``.
Gone (404/410, the platform says removed, or ``audio_check`` says the re-fetched
audio no longer holds the case's works) moves the case to ``removed``; still up is
recorded as a ``recheck`` event, and a case past its SLA shows as overdue. A probe
error ("error": network trouble) changes nothing but the record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import or_, select

from earwitness.kernel import settings
from earwitness.kernel.store.models import utcnow
from notices import cases, config
from earwitness.kernel.store.case_models import Case

log = logging.getLogger(__name__)
ACTOR = "recheck"


@dataclass
class RecheckResult:
    checked: int = 0
    removed: int = 0
    still_up: int = 0
    errors: int = 0
    overdue: int = 0
    details: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "details"}


def due(session, *, now: datetime | None = None) -> list[Case]:
    now = now or utcnow()
    hours = float(config.get("recheck_interval_hours", 12))
    cutoff = now - timedelta(hours=hours)
    q = (select(Case).where(Case.state == "notice_sent")
         .where(or_(Case.last_checked_at.is_(None), Case.last_checked_at <= cutoff))
         .order_by(Case.sent_at))
    return list(session.scalars(q))


def recheck_due(store, *, probe: Callable, audio_check: Callable[[Case, Path], bool] | None = None,
                now: datetime | None = None, limit: int | None = None) -> RecheckResult:
    """Probe every case due for a re-check, one transaction per case; counts.

    ``audio_check(case, path)`` says whether re-fetched audio still holds one of the
    case's works; without it a probe's audio is kept in the record but not judged.
    """
    result = RecheckResult()
    with store.session() as s:
        ids = [c.id for c in due(s, now=now)][:limit]
    for case_id in ids:
        with store.session() as s:
            case = s.get(Case, case_id)
            if case is None or case.state != "notice_sent":
                continue
            r = probe(case.url, case.platform)
            at = now or r.checked_at or utcnow()
            status = getattr(r, "http_status", None)
            check = {"reason": r.reason, "http_status": status, "url": case.url,
                     "checked_at": (r.checked_at or at).isoformat()}
            gone = bool(r.gone)
            if not gone and audio_check is not None and getattr(r, "audio_path", None):
                path = settings.get().path(r.audio_path)
                try:
                    if not audio_check(case, path):
                        gone, check["reason"] = True, "audio_no_longer_matches"
                except Exception as exc:  # noqa: BLE001  a broken file is a failed check, not a crash
                    log.warning("case %s: audio re-check failed: %s", case.id, exc)
                    check["audio_error"] = str(exc)
            case.last_checked_at = at
            result.checked += 1
            if gone:
                cases.apply(s, case.id, "verify_removed", actor=ACTOR, at=at,
                            reason=f"re-check: {check['reason']}", check=check)
                result.removed += 1
            else:
                is_error = r.reason == "error"
                overdue = case.is_overdue(at)
                cases.record(s, case.id, "recheck", actor=ACTOR, at=at,
                             reason="re-check failed: " + (getattr(r, "detail", "") or "error")
                             if is_error else "still up" + (" (overdue)" if overdue else ""),
                             check=check, overdue=overdue)
                result.errors += is_error
                result.still_up += not is_error
                result.overdue += overdue
            result.details.append({"case_id": case.id, **check, "removed": gone})
    return result
