"""One open case per infringing item, enforced by the database (a partial unique index).

``notices.cases.open_or_attach`` looks for the item's open case and opens one
when there is none; two writers confirming two detections of one item at once
(PostgreSQL's READ COMMITTED lets both look before either inserts) would open
two cases. This index makes the second insert fail, and ``notices.review``
attaches the detection to the case that won instead.

The index covers the states a new case starts in and moves through before the
item is taken down (``confirmed``, ``notice_drafted``, ``notice_sent``): a
removed case that is later disputed may legitimately coexist with a case opened
for a re-upload of the same item. Both SQLite and PostgreSQL support partial
indexes with the same ``WHERE`` clause.

Revision ID: 0016_one_open_case_per_item
Revises: 0003_notices
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_one_open_case_per_item"
down_revision = "0003_notices"
branch_labels = None
depends_on = None

INDEX = "uq_cases_one_open_per_item"
OPEN_BEFORE_REMOVAL = "state IN ('confirmed', 'notice_drafted', 'notice_sent')"


def upgrade() -> None:
    bind = op.get_bind()
    dupes = bind.execute(sa.text(
        f"SELECT platform, media_id, COUNT(*) FROM cases WHERE {OPEN_BEFORE_REMOVAL} "
        "GROUP BY platform, media_id HAVING COUNT(*) > 1")).all()
    if dupes:
        listed = "; ".join(f"{p}/{m} ({n} cases)" for p, m, n in dupes[:10])
        raise RuntimeError(
            f"cannot enforce one open case per item: {len(dupes)} items already have several open cases "
            f"({listed}). Withdraw the duplicates (earwitness cases withdraw ID --reason ...) and run again.")
    op.create_index(INDEX, "cases", ["platform", "media_id"], unique=True,
                    sqlite_where=sa.text(OPEN_BEFORE_REMOVAL),
                    postgresql_where=sa.text(OPEN_BEFORE_REMOVAL))


def downgrade() -> None:
    op.drop_index(INDEX, "cases")
