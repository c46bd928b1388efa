"""Notices: cases, case events (append-only), notices, evidence bundles, false positives.

Revision ID: 0003_notices
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_notices"
down_revision = "0001_core"
branch_labels = ("notices",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("media_id", sa.String(256), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("uploader", sa.String(512)),
        sa.Column("title", sa.Text),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("state_since", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("removed_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("last_checked_at", sa.DateTime),
        sa.Column("sla_due_at", sa.DateTime),
        sa.Column("dispute_basis", sa.String(32)),
        sa.Column("deadline_at", sa.DateTime),
        sa.Column("previous_case_id", sa.String(26), sa.ForeignKey("cases.id")),
        sa.Column("notice_id", sa.String(26)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_cases_platform_media", "cases", ["platform", "media_id"])
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_table(
        "case_detections",
        sa.Column("case_id", sa.String(26), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("detection_id", sa.String(26), sa.ForeignKey("detections.id"), primary_key=True,
                  unique=True),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("case_id", sa.String(26), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(512), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("sent_by", sa.String(128)),
        sa.Column("channel", sa.String(64)),
        sa.Column("sent_to", sa.String(512)),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
    )
    op.create_table(
        "notice_cases",
        sa.Column("notice_id", sa.String(26), sa.ForeignKey("notices.id"), primary_key=True),
        sa.Column("case_id", sa.String(26), sa.ForeignKey("cases.id"), primary_key=True),
    )
    op.create_table(
        "evidence_bundles",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("detection_id", sa.String(26), sa.ForeignKey("detections.id"), nullable=False,
                  unique=True),
        sa.Column("manifest_path", sa.Text, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("ledger_seq", sa.Integer, nullable=False),
        sa.Column("ledger_hash", sa.String(64), nullable=False),
        sa.Column("timestamped", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "false_positives",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("audio_key", sa.String(80), nullable=False),
        sa.Column("work_id", sa.String(128), sa.ForeignKey("works.id"), nullable=False),
        sa.Column("detection_id", sa.String(26), sa.ForeignKey("detections.id"), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("audio_key", "work_id", name="uq_false_positives_pair"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # the audit trail is append-only at the database too, not only in the ORM
        op.execute("CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
                   "BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END")
        op.execute("CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events "
                   "BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS case_events_no_delete")
    op.drop_table("false_positives")
    op.drop_table("evidence_bundles")
    op.drop_table("notice_cases")
    op.drop_table("notices")
    op.drop_table("case_events")
    op.drop_table("case_detections")
    op.drop_table("cases")
