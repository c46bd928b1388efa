"""Letter events are append-only in PostgreSQL itself, as they already are in SQLite.

``0006_letters_lifecycle`` creates ``notice_events`` with SQLite triggers that
refuse UPDATE and DELETE; this adds PostgreSQL's: a trigger function refusing
UPDATE, DELETE and TRUNCATE, so no hand-written statement, other program or
future bug can rewrite a letter's history (who approved it, when it was sent, to
whom) on either engine. The same pattern as ``0006_case_events_append_only``.
(SQLite's batch mode rebuilds a table and drops its triggers: a later migration
that alters ``notice_events`` must create them again.)

Revision ID: 0018_notice_events_append_only
Revises: 0006_letters_lifecycle
"""
from alembic import op

revision = "0018_notice_events_append_only"
down_revision = "0006_letters_lifecycle"
branch_labels = None
depends_on = None

MESSAGE = "letter events are append-only"

POSTGRES_UP = [
    f"""CREATE FUNCTION notice_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}: refused %', TG_OP USING ERRCODE = 'restrict_violation';
        END $$""",
    """CREATE TRIGGER notice_events_no_change BEFORE UPDATE OR DELETE ON notice_events
        FOR EACH ROW EXECUTE FUNCTION notice_events_refuse_change()""",
    """CREATE TRIGGER notice_events_no_truncate BEFORE TRUNCATE ON notice_events
        FOR EACH STATEMENT EXECUTE FUNCTION notice_events_refuse_change()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS notice_events_no_truncate ON notice_events",
    "DROP TRIGGER IF EXISTS notice_events_no_change ON notice_events",
    "DROP FUNCTION IF EXISTS notice_events_refuse_change()",
]


def _statements(up: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return []  # created with the table in 0006_letters_lifecycle
    if dialect == "postgresql":
        return POSTGRES_UP if up else POSTGRES_DOWN
    raise NotImplementedError(f"no append-only trigger for the {dialect} dialect (SQLite and PostgreSQL only)")


def upgrade() -> None:
    for sql in _statements(up=True):
        op.execute(sql)


def downgrade() -> None:
    for sql in _statements(up=False):
        op.execute(sql)
