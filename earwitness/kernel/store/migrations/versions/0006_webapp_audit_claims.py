"""Web app: the audit log (logins, failures, account changes, undo) and review claims.

Revision ID: 0006_webapp_audit_claims
Revises: 0005_webapp
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_webapp_audit_claims"
down_revision = "0005_webapp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webapp_audit",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(128)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128)),
        sa.Column("remote_addr", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_webapp_audit_action_at", "webapp_audit", ["action", "at"])
    op.create_index("ix_webapp_audit_subject_at", "webapp_audit", ["subject", "at"])
    op.create_table(
        "webapp_claims",
        sa.Column("detection_id", sa.String(26), primary_key=True),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webapp_claims")
    op.drop_index("ix_webapp_audit_subject_at", "webapp_audit")
    op.drop_index("ix_webapp_audit_action_at", "webapp_audit")
    op.drop_table("webapp_audit")
