"""Daemon records: job run history, Elasticsearch sync state, APScheduler's job store.

Revision ID: 0004_daemon
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_daemon"
down_revision = "0001_core"
branch_labels = ("daemon",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("job_id", sa.String(191), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("result", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job_id", "started_at"])
    op.create_index("ix_job_runs_status", "job_runs", ["status"])
    op.create_table(
        "es_sync_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    # APScheduler 3.x SQLAlchemyJobStore's table, owned here so every store has it migrated
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    op.drop_table("es_sync_state")
    op.drop_table("job_runs")
