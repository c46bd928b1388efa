"""What the daemon calls: small functions over the store, each returning a dict of counts.

Each unit of work is its own transaction, so a killed job loses at most the item
in hand and a rerun does not redo finished work.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from earwitness.kernel import settings
from earwitness.kernel.store.models import Detection, utcnow
from notices import evidence, letters, recheck as recheck_mod, report, review
from notices.exceptions import NoticesError
from earwitness.kernel.store.case_models import Case, EvidenceBundle

log = logging.getLogger(__name__)
ACTOR = "daemon"


def capture_evidence(store, *, limit: int | None = None) -> dict:
    """Auto-confirm where the policy allows, then bundle the evidence of every confirmed detection."""
    with store.session() as s:
        auto = review.auto_confirm(s)
    with store.session() as s:
        q = (select(Detection.id).where(Detection.review_state == "confirmed")
             .where(~select(EvidenceBundle.id).where(EvidenceBundle.detection_id == Detection.id).exists())
             .order_by(Detection.created_at))
        ids = list(s.scalars(q.limit(limit) if limit else q))
    built = failed = 0
    for det_id in ids:
        try:
            with store.session() as s:
                evidence.build_bundle(s, det_id)
            built += 1
        except NoticesError as exc:
            failed += 1
            log.warning("evidence for detection %s: %s", det_id, exc)
    return {"auto_confirmed": auto, "bundled": built, "failed": failed}


def draft_notices(store) -> dict:
    """Draft one letter per platform that has confirmed cases (never sends anything)."""
    with store.session() as s:
        platforms = sorted(set(s.scalars(select(Case.platform).where(Case.state == "confirmed"))))
    drafted = refused = cases_n = 0
    for platform in platforms:
        try:
            with store.session() as s:
                notice = letters.draft(s, platform=platform, actor=ACTOR)
                cases_n += len(notice.cases)
            drafted += 1
        except NoticesError as exc:
            refused += 1
            log.warning("letter for %s not drafted: %s", platform, exc)
    return {"drafted": drafted, "cases": cases_n, "refused": refused}


def recheck(store, *, probe, audio_check=None) -> dict:
    """Re-check the cases due; ``probe`` and ``audio_check`` come from the application layer."""
    return recheck_mod.recheck_due(store, probe=probe, audio_check=audio_check).as_dict()


def monthly_report(store, month: str | None = None) -> dict:
    """Write last month's report (or ``month``) as Markdown and PDF under ``<home>/reports``."""
    month = month or report.previous_month(utcnow())
    out = settings.get().path("reports")
    with store.session() as s:
        rep = report.monthly(s, month)
        paths = report.write(rep, out)
    return {"month": month, "cases": rep.totals["verified"], "files": [str(p) for p in paths]}
