"""The crawl frontier: what each crawl found and what became of it, so a killed crawl resumes.

One row per item (platform + media id). States::

    discovered -> fetched | gone | rejected | failed
                  (failed is retried by the next crawl, up to ``max_attempts``)

A listing page's results are written as ``discovered`` before any of them is
fetched, so a crawl killed mid-way loses nothing it found; a restarted crawl
fetches every ``discovered`` row first and never refetches a ``fetched`` one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import Base, utcnow

STATES = ("discovered", "fetched", "gone", "rejected", "failed")


class FrontierEntry(Base):
    """One discovered item and its fetch outcome."""

    __tablename__ = "crawl_frontier"
    __table_args__ = (
        UniqueConstraint("platform", "media_id", name="uq_crawl_frontier_item"),
        Index("ix_crawl_frontier_site_state", "site", "state"),
        Index("ix_crawl_frontier_source", "source_url"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    site: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(256))
    url: Mapped[str] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    found_on: Mapped[str | None] = mapped_column(Text)          # the listing page's URL
    state: Mapped[str] = mapped_column(String(16), default="discovered")
    reason: Mapped[str | None] = mapped_column(Text)            # http_404, too_long, ...
    http_status: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    source_url: Mapped[str | None] = mapped_column(Text)        # the media file yt-dlp chose
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    clip_id: Mapped[str | None] = mapped_column(String(26))
    listing: Mapped[dict[str, Any]] = mapped_column(default=dict)  # fields seen on the listing
    discovered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SiteCheck(Base):
    """One canary check of one site (``earwitness sites check``, the daemon's daily ``canary`` job).

    Every check is kept (the latest per site is the site's state; older rows say since when), and
    mirrored to Elasticsearch as the ``site_checks`` family so Kibana can chart sites over time.
    ``state`` is one of :data:`crawler.canary.STATES`.
    """

    __tablename__ = "site_checks"
    __outbox__ = "site_checks"
    __table_args__ = (Index("ix_site_checks_site_at", "site", "checked_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    site: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveCoverage(Base):
    """One period of watching one live room (``earwitness live watch``, the daemon's ``live_watch`` job):
    programme heard, windows matched, plays detected, the last play's time and how the period ended.
    Mirrored to Elasticsearch as the ``live_coverage`` family (rooms watched and heard over time)."""

    __tablename__ = "live_coverage"
    __outbox__ = "live_coverage"
    __table_args__ = (Index("ix_live_coverage_room_end", "platform", "room_id", "period_end"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    platform: Mapped[str] = mapped_column(String(64))
    room_id: Mapped[str] = mapped_column(String(256))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    heard_s: Mapped[float] = mapped_column(Float)                # seconds of programme captured
    windows: Mapped[int] = mapped_column(Integer)                # windows matched
    plays: Mapped[int] = mapped_column(Integer)                  # plays detected (one detection each)
    last_hit_at: Mapped[datetime | None] = mapped_column()       # when the last detected play was on air
    outcome: Mapped[str] = mapped_column(String(16))             # ok, or how the stream last ended
    reason: Mapped[str | None] = mapped_column(Text)
