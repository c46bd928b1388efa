"""Crawler: live coverage, one row per period of watching one room (rooms watched, programme heard,
plays detected, last hit), for the review app and the Elasticsearch mirror.

Revision ID: 0019_live_coverage
Revises: 0010_site_checks
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_live_coverage"
down_revision = "0010_site_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_coverage",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(256), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("period_start", sa.DateTime, nullable=False),
        sa.Column("period_end", sa.DateTime, nullable=False),
        sa.Column("heard_s", sa.Float, nullable=False),
        sa.Column("windows", sa.Integer, nullable=False),
        sa.Column("plays", sa.Integer, nullable=False),
        sa.Column("last_hit_at", sa.DateTime),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_live_coverage_room_end", "live_coverage", ["platform", "room_id", "period_end"])


def downgrade() -> None:
    op.drop_index("ix_live_coverage_room_end", table_name="live_coverage")
    op.drop_table("live_coverage")
