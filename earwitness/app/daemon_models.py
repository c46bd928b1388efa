"""Records of the daemon: one row per job run, and the Elasticsearch sync counters.

Tables come from migration ``0004_daemon``; APScheduler's own job table
(``apscheduler_jobs``) is created there too but is read and written only by
APScheduler's ``SQLAlchemyJobStore``. Job runs are mirrored to Elasticsearch (family
``job_runs``), so a failed or partial run shows in the mirror as it shows in ``status``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import Base, utcnow


# the run states a person must look at (red in ``status``, the app and the mirror)
FAILED_STATES = ("failed", "partial", "interrupted")


class JobRun(Base):
    """One run of one job: started, then ok | partial | failed | interrupted."""

    __tablename__ = "job_runs"
    __outbox__ = "job_runs"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(String(191))
    trigger: Mapped[str] = mapped_column(String(16))       # schedule | once | manual
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[dict[str, Any] | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)

    def to_document(self) -> dict[str, Any]:
        """The run for the mirror: flat, with ``red`` for a run a person must look at, the job's
        family and site, its first error line, and the job's own result as one JSON string (each
        job's result has its own shape; mapped field by field they would clash)."""
        doc = super().to_document()
        result = doc.pop("result", None)
        family, _, site = self.job_id.partition(":")
        doc.update(family=family, site=site or None, red=self.status in FAILED_STATES,
                   error_line=(self.error or "").strip().split("\n")[0][:1000] or None,
                   result_json=json.dumps(result, sort_keys=True, default=str)[:32000] if result else None)
        if self.finished_at is not None and self.started_at is not None:
            doc["seconds"] = round((self.finished_at - self.started_at).total_seconds(), 3)
        return doc


class SyncState(Base):
    """A named counter of the Elasticsearch sync (the external document version)."""

    __tablename__ = "es_sync_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
