"""Crawler: the canary's site checks (one row per check of one site), moved out of sites.json so the
daemon, `status`, the review app and the Elasticsearch mirror read the same rows.

Revision ID: 0010_site_checks
Revises: 0002_crawler
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_site_checks"
down_revision = "0002_crawler"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_checks",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_site_checks_site_at", "site_checks", ["site", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_site_checks_site_at", table_name="site_checks")
    op.drop_table("site_checks")
