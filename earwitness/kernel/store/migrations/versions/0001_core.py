"""Core records: works, clips, detections, outbox.

Revision ID: 0001_core
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "works",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("title", sa.String(512)),
        sa.Column("artist", sa.String(512)),
        sa.Column("isrc", sa.String(15)),
        sa.Column("owner", sa.String(512)),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.Column("source_path", sa.Text),
        sa.Column("audio_sha256", sa.String(64)),
        sa.Column("duration_s", sa.Float),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "clips",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("media_id", sa.String(256), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("uploader", sa.String(512)),
        sa.Column("uploader_id", sa.String(256)),
        sa.Column("published_at", sa.DateTime),
        sa.Column("captured_at", sa.DateTime, nullable=False),
        sa.Column("view_count", sa.Integer),
        sa.Column("is_live", sa.Boolean, nullable=False),
        sa.Column("live_window_start", sa.DateTime),
        sa.Column("live_window_end", sa.DateTime),
        sa.Column("licensed", sa.Boolean, nullable=False),
        sa.Column("audio_sha256", sa.String(64)),
        sa.Column("media_path", sa.Text),
        sa.Column("media_sha256", sa.String(64)),
        sa.Column("duration_s", sa.Float),
        sa.Column("screenshot_path", sa.Text),
        sa.Column("screenshot_sha256", sa.String(64)),
        sa.Column("html_path", sa.Text),
        sa.Column("html_sha256", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("matched_at", sa.DateTime),
        sa.Column("matcher_version", sa.String(64)),
        sa.Column("extra", sa.JSON, nullable=False),
    )
    op.create_index("ix_clips_platform_media", "clips", ["platform", "media_id"])
    op.create_index("ix_clips_audio_sha256", "clips", ["audio_sha256"])
    op.create_index("ix_clips_status", "clips", ["status"])
    op.create_table(
        "detections",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("clip_id", sa.String(26), sa.ForeignKey("clips.id"), nullable=False),
        sa.Column("work_id", sa.String(128), sa.ForeignKey("works.id"), nullable=False),
        sa.Column("clip_offset_s", sa.Float, nullable=False),
        sa.Column("ref_offset_s", sa.Float, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("pitch_semitones", sa.Float, nullable=False),
        sa.Column("tempo_ratio", sa.Float, nullable=False),
        sa.Column("matched_peaks", sa.Integer),
        sa.Column("matcher_version", sa.String(64), nullable=False),
        sa.Column("review_state", sa.String(16), nullable=False),
        sa.Column("reviewed_by", sa.String(128)),
        sa.Column("reviewed_at", sa.DateTime),
        sa.Column("review_reason", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("clip_id", "work_id", name="uq_detections_clip_work"),
    )
    op.create_index("ix_detections_review_state", "detections", ["review_state"])
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("detections")
    op.drop_table("clips")
    op.drop_table("works")
