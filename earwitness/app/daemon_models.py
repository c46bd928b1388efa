"""Records of the daemon: one row per job run, and the Elasticsearch sync counters.

Tables come from migration ``0004_daemon``; APScheduler's own job table
(``apscheduler_jobs``) is created there too but is read and written only by
APScheduler's ``SQLAlchemyJobStore``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import Base, utcnow


class JobRun(Base):
    """One run of one job: started, then ok | failed | interrupted."""

    __tablename__ = "job_runs"

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


class SyncState(Base):
    """A named counter of the Elasticsearch sync (the external document version)."""

    __tablename__ = "es_sync_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
