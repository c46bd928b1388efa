"""Web app: reviewer accounts and login sessions.

Revision ID: 0005_webapp
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_webapp"
down_revision = "0001_core"
branch_labels = ("webapp",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webapp_users",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_login_at", sa.DateTime),
    )
    op.create_table(
        "webapp_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(26), sa.ForeignKey("webapp_users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("remote_addr", sa.String(64)),
    )
    op.create_index("ix_webapp_sessions_user", "webapp_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_webapp_sessions_user", "webapp_sessions")
    op.drop_table("webapp_sessions")
    op.drop_table("webapp_users")
