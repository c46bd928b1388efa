"""What the daemon calls: small functions over the store, each returning a dict of counts.

Each unit of work is its own transaction, so a killed job loses at most the item
in hand and a rerun does not redo finished work. One item that fails is recorded
with its reason and skipped; the result's ``status`` says ``ok``, ``partial``
(some items failed) or ``failed`` (every item failed), and the daemon records it.
Jobs take ``stop`` (an event set when the daemon is asked to stop) and check it
between items.
"""

from __future__ import annotations

import logging
from threading import Event

from sqlalchemy import select

from earwitness.kernel import settings
from earwitness.kernel.store.models import Detection, utcnow
from notices import evidence, letters, recheck as recheck_mod, report, review
from notices.exceptions import NoticesError
from earwitness.kernel.store.case_models import Case, EvidenceBundle

log = logging.getLogger(__name__)
ACTOR = "daemon"


def outcome(done: int, failed: int) -> str:
    """A job's status from its item counts: ``failed`` when nothing succeeded, ``partial`` when some failed."""
    if not failed:
        return "ok"
    return "failed" if not done else "partial"


def capture_evidence(store, *, limit: int | None = None, stop: Event | None = None) -> dict:
    """Auto-confirm where the policy allows, then bundle the evidence of every confirmed detection."""
    with store.session() as s:
        auto = review.auto_confirm_pass(s, stop=stop)
    with store.session() as s:
        q = (select(Detection.id).where(Detection.review_state == "confirmed")
             .where(~select(EvidenceBundle.id).where(EvidenceBundle.detection_id == Detection.id).exists())
             .order_by(Detection.created_at))
        ids = list(s.scalars(q.limit(limit) if limit else q))
    built = failed = 0
    errors = list(auto.errors)
    stopped = auto.stopped
    for det_id in ids:
        if stop is not None and stop.is_set():
            stopped = True
            break
        try:
            with store.session() as s:
                evidence.build_bundle(s, det_id)
            built += 1
        except Exception as exc:  # noqa: BLE001 - one bad detection never stops the others
            failed += 1
            reason = str(exc) if isinstance(exc, NoticesError) else f"{type(exc).__name__}: {exc}"
            log.warning("evidence for detection %s: %s", det_id, reason)
            if len(errors) < 20:
                errors.append(f"detection {det_id}: {reason}")
    return {"status": outcome(built + auto.confirmed, failed + auto.failed),
            "auto_confirmed": auto.confirmed, "auto_confirm_failed": auto.failed,
            "bundled": built, "failed": failed, "stopped": stopped, "errors": errors}


def draft_notices(store, *, stop: Event | None = None) -> dict:
    """Draft one letter per platform that has confirmed cases (never sends anything)."""
    with store.session() as s:
        platforms = sorted(set(s.scalars(select(Case.platform).where(Case.state == "confirmed"))))
    drafted = refused = failed = cases_n = 0
    errors: list[str] = []
    stopped = False
    for platform in platforms:
        if stop is not None and stop.is_set():
            stopped = True
            break
        try:
            with store.session() as s:
                notice = letters.draft(s, platform=platform, actor=ACTOR)
                cases_n += len(notice.cases)
            drafted += 1
        except NoticesError as exc:   # refused on purpose (missing elements...): a finding, reported
            refused += 1
            log.warning("letter for %s not drafted: %s", platform, exc)
            errors.append(f"{platform}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one platform's failure never stops the others
            failed += 1
            log.warning("letter for %s failed: %s: %s", platform, type(exc).__name__, exc)
            errors.append(f"{platform}: {type(exc).__name__}: {exc}")
    return {"status": outcome(drafted, refused + failed), "drafted": drafted, "cases": cases_n,
            "refused": refused, "failed": failed, "stopped": stopped, "errors": errors[:20]}


def recheck(store, *, probe, audio_check=None, stop: Event | None = None, deadline_s: float | None = None) -> dict:
    """Re-check the cases due: sent notices, then removed, resolved and restored items on their slower
    schedule; ``probe`` and ``audio_check`` come from the application layer; ``stop`` and
    ``deadline_s`` end the loop between cases (the rest stay due for the next run)."""
    out = recheck_mod.recheck_due(store, probe=probe, audio_check=audio_check, stop=stop,
                                  deadline_s=deadline_s).as_dict()
    # then the removed, resolved and restored items, on their slower schedule (unless stopped)
    if not out.get("stopped"):
        after = recheck_mod.recheck_after_removal(store, probe=probe, audio_check=audio_check, stop=stop,
                                                  deadline_s=deadline_s)
        out["after_removal"] = {k: v for k, v in after.items() if k != "details"}
        if after["failed"] and out.get("status") == "ok":    # a failed item is never "ok"
            out["status"] = "partial" if out.get("checked") or after["checked"] else "failed"
            out["reason"] = "; ".join(filter(None, [out.get("reason"), *after["failures"][:3]]))
    return out


def monthly_report(store, month: str | None = None) -> dict:
    """Write last month's report (or ``month``) as Markdown and PDF under ``<home>/reports``."""
    month = month or report.previous_month(utcnow())
    out = settings.get().path("reports")
    with store.session() as s:
        rep = report.monthly(s, month)
        paths = report.write(rep, out)
    return {"month": month, "cases": rep.totals["verified"], "files": [str(p) for p in paths]}
