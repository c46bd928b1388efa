"""Case events are append-only in PostgreSQL itself, as they already are in SQLite.

``0003_notices`` creates SQLite's triggers; this adds PostgreSQL's: a trigger
function refusing UPDATE, DELETE and TRUNCATE on ``case_events``, so a
hand-written SQL statement, another program or a future bug cannot rewrite a
case's history on either engine. The ORM's before-flush check stays: it gives a
clearer error earlier. (SQLite's batch mode rebuilds a table and drops its
triggers: a later migration that alters ``case_events`` must create them again.)

Revision ID: 0006_case_events_append_only
Revises: 0003_notices
"""
from alembic import op

revision = "0006_case_events_append_only"
down_revision = "0003_notices"
branch_labels = None
depends_on = None

MESSAGE = "case events are append-only"

POSTGRES_UP = [
    f"""CREATE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}: refused %', TG_OP USING ERRCODE = 'restrict_violation';
        END $$""",
    """CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
        FOR EACH ROW EXECUTE FUNCTION case_events_refuse_change()""",
    """CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
        FOR EACH STATEMENT EXECUTE FUNCTION case_events_refuse_change()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events",
    "DROP TRIGGER IF EXISTS case_events_no_change ON case_events",
    "DROP FUNCTION IF EXISTS case_events_refuse_change()",
]


def _statements(up: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return []  # created with the table in 0003_notices
    if dialect == "postgresql":
        return POSTGRES_UP if up else POSTGRES_DOWN
    raise NotImplementedError(f"no append-only trigger for the {dialect} dialect (SQLite and PostgreSQL only)")


def upgrade() -> None:
    for sql in _statements(up=True):
        op.execute(sql)


def downgrade() -> None:
    for sql in _statements(up=False):
        op.execute(sql)
