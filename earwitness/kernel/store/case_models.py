"""Records of the notices stage: cases, their events, notices, evidence bundles, false positives.

A :class:`Case` is one infringing item (platform + media id) and carries the
lifecycle state; its :class:`CaseEvent` rows are append-only (the ORM refuses
updates and deletes, and SQLite triggers from migration ``0003_notices`` refuse
them at the database too). A :class:`Notice` is one letter to one platform
recipient covering one or more cases. An :class:`EvidenceBundle` points at its
manifest under ``<home>/evidence`` and at its ledger entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint,
                        event)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import Base, Detection, utcnow

case_detections = Table(
    "case_detections", Base.metadata,
    Column("case_id", String(26), ForeignKey("cases.id"), primary_key=True),
    Column("detection_id", String(26), ForeignKey("detections.id"), primary_key=True, unique=True),
)

notice_cases = Table(
    "notice_cases", Base.metadata,
    Column("notice_id", String(26), ForeignKey("notices.id"), primary_key=True),
    Column("case_id", String(26), ForeignKey("cases.id"), primary_key=True),
)


class Case(Base):
    """One infringing item on one platform, and where it stands."""

    __tablename__ = "cases"
    __outbox__ = "cases"
    __table_args__ = (
        Index("ix_cases_platform_media", "platform", "media_id"),
        Index("ix_cases_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    platform: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(256))
    url: Mapped[str] = mapped_column(Text)
    uploader: Mapped[str | None] = mapped_column(String(512))
    title: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    last_checked_at: Mapped[datetime | None] = mapped_column()
    sla_due_at: Mapped[datetime | None] = mapped_column()
    # disputed: the legal basis of the counter-notice period and when it ends
    dispute_basis: Mapped[str | None] = mapped_column(String(32))
    deadline_at: Mapped[datetime | None] = mapped_column()
    previous_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    notice_id: Mapped[str | None] = mapped_column(String(26))   # the notice now covering it
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    detections: Mapped[list[Detection]] = relationship(secondary=case_detections,
                                                       order_by=Detection.created_at)
    events: Mapped[list["CaseEvent"]] = relationship(back_populates="case",
                                                     order_by="CaseEvent.seq")
    previous: Mapped["Case | None"] = relationship(remote_side=[id])

    def is_overdue(self, now: datetime | None = None) -> bool:
        """Sent, not yet removed, and past the SLA."""
        now = now or utcnow()
        return self.state == "notice_sent" and self.sla_due_at is not None and now > self.sla_due_at

    def deadline_passed(self, now: datetime | None = None) -> bool:
        """Disputed and past the counter-notice period: time to restore or escalate."""
        return self.state == "disputed" and self.deadline_at is not None and (now or utcnow()) > self.deadline_at

    def work_ids(self) -> list[str]:
        seen: list[str] = []
        for det in self.detections:
            if det.work_id not in seen:
                seen.append(det.work_id)
        return seen

    def to_document(self) -> dict[str, Any]:
        doc = super().to_document()
        doc["overdue"] = self.is_overdue()
        doc["deadline_passed"] = self.deadline_passed()
        return doc


class CaseEvent(Base):
    """One transition or note on a case: append-only (actor, time, reason)."""

    __tablename__ = "case_events"
    __outbox__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class Notice(Base):
    """One revision of a letter to one platform recipient; sent only by an explicit, recorded action.

    Revisions of one letter share ``series_id`` (the first revision's id) and count
    up in ``revision``; ``state`` is declared in :mod:`notices.letter_lifecycle`
    (draft | approved | sent | withdrawn | superseded). A superseded revision keeps
    its content, ``content_sha256`` and exported files' hashes as they were.
    """

    __tablename__ = "notices"
    __outbox__ = "notices"
    __table_args__ = (Index("ix_notices_series", "series_id", "revision", unique=True),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    series_id: Mapped[str | None] = mapped_column(String(26))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[str | None] = mapped_column(String(26))
    superseded_by_id: Mapped[str | None] = mapped_column(String(26))
    platform: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(512))
    jurisdiction: Mapped[str] = mapped_column(String(8), default="CN")
    lang: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None] = mapped_column()
    sent_by: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(64))
    sent_to: Mapped[str | None] = mapped_column(String(512))
    closed_at: Mapped[datetime | None] = mapped_column()     # withdrawn or superseded
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)   # the letter's data, frozen at draft
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)     # rendered file name -> sha256

    cases: Mapped[list[Case]] = relationship(secondary=notice_cases, order_by=Case.opened_at)
    events: Mapped[list["NoticeEvent"]] = relationship(back_populates="notice",
                                                       order_by="NoticeEvent.seq")


class NoticeEvent(Base):
    """One letter event (draft, approve, send, withdraw, revise, retract): append-only."""

    __tablename__ = "notice_events"
    __table_args__ = (UniqueConstraint("notice_id", "seq", name="uq_notice_events_seq"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    notice: Mapped[Notice] = relationship(back_populates="events")


class EvidenceBundle(Base):
    """The evidence of one detection: a manifest of content-addressed files and its ledger entry."""

    __tablename__ = "evidence_bundles"
    __outbox__ = "evidence"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    detection_id: Mapped[str] = mapped_column(ForeignKey("detections.id"), unique=True)
    manifest_path: Mapped[str] = mapped_column(Text)       # relative to the data home
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)   # name -> {"sha256", "path", "bytes"}
    ledger_seq: Mapped[int] = mapped_column(Integer)
    ledger_hash: Mapped[str] = mapped_column(String(64))
    timestamped: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    detection: Mapped[Detection] = relationship()


class FalsePositive(Base):
    """A rejected pairing of clip audio and work: never raised together again."""

    __tablename__ = "false_positives"
    __table_args__ = (UniqueConstraint("audio_key", "work_id", name="uq_false_positives_pair"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    audio_key: Mapped[str] = mapped_column(String(80))     # clip audio_sha256, or "clip:<id>" without one
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"))
    detection_id: Mapped[str] = mapped_column(ForeignKey("detections.id"))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(Session, "before_flush")
def _events_are_append_only(session: Session, _ctx, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (CaseEvent, NoticeEvent)) and (obj in session.deleted or session.is_modified(obj)):
            raise ValueError(f"case and letter events are append-only: refused to change event {obj.id}")


def sla_due(sent_at: datetime, days: float) -> datetime:
    return sent_at + timedelta(days=days)
