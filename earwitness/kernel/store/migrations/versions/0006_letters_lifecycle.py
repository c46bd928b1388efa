"""Letters: revisions, approval, declared states, an append-only letter event trail, jurisdiction.

Revision ID: 0006_letters_lifecycle
Revises: 0003_notices
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_letters_lifecycle"
down_revision = "0003_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("series_id", sa.String(26)))
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("supersedes_id", sa.String(26)))
        batch.add_column(sa.Column("superseded_by_id", sa.String(26)))
        batch.add_column(sa.Column("jurisdiction", sa.String(8), nullable=False, server_default="CN"))
        batch.add_column(sa.Column("content_sha256", sa.String(64)))
        batch.add_column(sa.Column("approved_at", sa.DateTime))
        batch.add_column(sa.Column("approved_by", sa.String(128)))
        batch.add_column(sa.Column("closed_at", sa.DateTime))
    op.execute("UPDATE notices SET series_id = id WHERE series_id IS NULL")
    op.create_index("ix_notices_series", "notices", ["series_id", "revision"], unique=True)
    op.create_table(
        "notice_events",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("notice_id", sa.String(26), sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
        sa.UniqueConstraint("notice_id", "seq", name="uq_notice_events_seq"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE TRIGGER notice_events_no_update BEFORE UPDATE ON notice_events "
                   "BEGIN SELECT RAISE(ABORT, 'letter events are append-only'); END")
        op.execute("CREATE TRIGGER notice_events_no_delete BEFORE DELETE ON notice_events "
                   "BEGIN SELECT RAISE(ABORT, 'letter events are append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS notice_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS notice_events_no_delete")
    op.drop_table("notice_events")
    op.drop_index("ix_notices_series", "notices")
    with op.batch_alter_table("notices") as batch:
        for col in ("closed_at", "approved_by", "approved_at", "content_sha256", "jurisdiction",
                    "superseded_by_id", "supersedes_id", "revision", "series_id"):
            batch.drop_column(col)
