"""Web app: the review queue's order (state, then age) served from an index, not a sort of every row.

Revision ID: 0006_webapp_queue_index
Revises: 0006_webapp_audit_claims
"""
from alembic import op

revision = "0006_webapp_queue_index"
down_revision = "0006_webapp_audit_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_detections_state_created", "detections", ["review_state", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_detections_state_created", "detections")
