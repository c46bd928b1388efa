"""Crawler: the crawl frontier (discovered items and their fetch outcome).

Revision ID: 0002_crawler
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_crawler"
down_revision = "0001_core"
branch_labels = ("crawler",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_frontier",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("media_id", sa.String(256), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("query", sa.Text),
        sa.Column("found_on", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("http_status", sa.Integer),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("source_url", sa.Text),
        sa.Column("audio_sha256", sa.String(64)),
        sa.Column("clip_id", sa.String(26)),
        sa.Column("listing", sa.JSON, nullable=False),
        sa.Column("discovered_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("platform", "media_id", name="uq_crawl_frontier_item"),
    )
    op.create_index("ix_crawl_frontier_site_state", "crawl_frontier", ["site", "state"])
    op.create_index("ix_crawl_frontier_source", "crawl_frontier", ["source_url"])


def downgrade() -> None:
    op.drop_table("crawl_frontier")
