"""Work leases: which worker holds which frontier item or backlog clip, and until when.

Revision ID: 0007_work_leases
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_work_leases"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_leases",
        sa.Column("queue", sa.String(32), primary_key=True),
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("taken_at", sa.DateTime, nullable=False),
        sa.Column("times_taken", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("work_leases")
