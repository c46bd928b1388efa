"""Core records: Work, Clip, Detection, and the Elasticsearch outbox.

Later stages declare their own records on the same :class:`Base` in their own
package (``earwitness.kernel.store.case_models``: cases, events, notices, evidence, ledger) with
their own migration branch. A record whose class sets ``__outbox__`` (the
Elasticsearch index family it mirrors into) gets an outbox row in the same
transaction as every insert, update or delete: see :mod:`earwitness.kernel.store.outbox`.

Times are timezone-aware UTC. Ids are ULIDs from :func:`earwitness.kernel.store.ids.new_id`
except a Work's, which is the catalog's own track id.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from earwitness.kernel.store.ids import new_id


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores UTC, always returns aware datetimes (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}

    def to_document(self) -> dict[str, Any]:
        """A flat JSON-ready dict of the record's columns (for the outbox and ``--json``)."""
        out: dict[str, Any] = {}
        for col in self.__table__.columns:
            value = getattr(self, col.key)
            out[col.key] = value.isoformat() if isinstance(value, datetime) else value
        return out


class Work(Base):
    """A catalog recording. Its fingerprints live in the matcher's index under the same id."""

    __tablename__ = "works"
    __outbox__ = "works"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(512))
    artist: Mapped[str | None] = mapped_column(String(512))
    isrc: Mapped[str | None] = mapped_column(String(15))
    owner: Mapped[str | None] = mapped_column(String(512))
    aliases: Mapped[list[str]] = mapped_column(default=list)
    source_path: Mapped[str | None] = mapped_column(Text)
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Clip(Base):
    """Fetched media: one capture of one item (or one live window) on one platform.

    ``media_path`` is the captured file kept as evidence (relative to the data
    home) and ``media_sha256`` its SHA-256, checked whenever evidence is bundled.
    ``audio_sha256`` identifies the decoded audio: many clips (URLs, re-uploads)
    may share it, and matching is done once per hash. Where the stored file is
    the normalised audio itself, the two hashes are equal; the hash of the file
    as first downloaded, if different, is kept in ``extra["download_sha256"]``.
    ``original_path``/``original_sha256`` keep that downloaded file itself (the
    container as the platform served it, before ffmpeg) beside the normalised
    audio; ``warc_path``/``warc_sha256`` the page's network record (WARC) taken
    with the screenshot.
    """

    __tablename__ = "clips"
    __outbox__ = "clips"
    __table_args__ = (
        Index("ix_clips_platform_media", "platform", "media_id"),
        Index("ix_clips_audio_sha256", "audio_sha256"),
        Index("ix_clips_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    platform: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    media_id: Mapped[str] = mapped_column(String(256))
    title: Mapped[str | None] = mapped_column(Text)
    uploader: Mapped[str | None] = mapped_column(String(512))
    uploader_id: Mapped[str | None] = mapped_column(String(256))
    published_at: Mapped[datetime | None] = mapped_column()
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
    view_count: Mapped[int | None] = mapped_column(Integer)
    is_live: Mapped[bool] = mapped_column(Boolean, default=False)
    live_window_start: Mapped[datetime | None] = mapped_column()
    live_window_end: Mapped[datetime | None] = mapped_column()
    licensed: Mapped[bool] = mapped_column(Boolean, default=False)
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    media_path: Mapped[str | None] = mapped_column(Text)        # relative to the data home
    media_sha256: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the file at media_path
    duration_s: Mapped[float | None] = mapped_column(Float)
    screenshot_path: Mapped[str | None] = mapped_column(Text)
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64))
    html_path: Mapped[str | None] = mapped_column(Text)
    html_sha256: Mapped[str | None] = mapped_column(String(64))
    warc_path: Mapped[str | None] = mapped_column(Text)
    warc_sha256: Mapped[str | None] = mapped_column(String(64))
    original_path: Mapped[str | None] = mapped_column(Text)          # the file as downloaded, kept
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    # fetched -> matched | failed; 'gone' when the platform removed it
    status: Mapped[str] = mapped_column(String(16), default="fetched")
    error: Mapped[str | None] = mapped_column(Text)
    matched_at: Mapped[datetime | None] = mapped_column()
    matcher_version: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    detections: Mapped[list["Detection"]] = relationship(back_populates="clip")


class Detection(Base):
    """A clip matched to a work, with the fitted transform, waiting for review."""

    __tablename__ = "detections"
    __outbox__ = "detections"
    __table_args__ = (
        UniqueConstraint("clip_id", "work_id", name="uq_detections_clip_work"),
        Index("ix_detections_review_state", "review_state"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    clip_id: Mapped[str] = mapped_column(ForeignKey("clips.id"))
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"))
    clip_offset_s: Mapped[float] = mapped_column(Float)     # where in the clip the match starts
    ref_offset_s: Mapped[float] = mapped_column(Float)      # where in the work the clip's start maps to
    duration_s: Mapped[float] = mapped_column(Float)        # matched span, clip seconds
    score: Mapped[float] = mapped_column(Float)
    pitch_semitones: Mapped[float] = mapped_column(Float)
    tempo_ratio: Mapped[float] = mapped_column(Float)       # >1: the clip plays faster than the work
    matched_peaks: Mapped[int | None] = mapped_column(Integer)
    matcher_version: Mapped[str] = mapped_column(String(64))
    # pending -> confirmed | rejected (notices.review owns the moves)
    review_state: Mapped[str] = mapped_column(String(16), default="pending")
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clip: Mapped[Clip] = relationship(back_populates="detections")
    work: Mapped[Work] = relationship()


class OutboxEntry(Base):
    """One change to mirror into Elasticsearch; written in the changing transaction."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(64))     # index family: works, clips, detections, cases...
    entity_id: Mapped[str] = mapped_column(String(128))
    op: Mapped[str] = mapped_column(String(8))          # upsert | delete
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
