"""A letter's event trail (drafted, approved, sent: by whom, when, to whom) is append-only in the database
itself, on SQLite and on PostgreSQL: no UPDATE, DELETE or (PostgreSQL) TRUNCATE gets through."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from earwitness.kernel.store.case_models import NoticeEvent
from notices import letters, review

from tests.notices.conftest import T0, Seeder


@pytest.fixture(params=["sqlite", "postgres"])
def engine_store(request, home):
    if request.param == "sqlite":
        from earwitness.kernel.store import Store
        st = Store(f"sqlite:///{home}/append-only.db")
        yield st
        st.dispose()
    else:
        yield request.getfixturevalue("pg_store")


def test_notice_events_refuse_update_and_delete(engine_store, home):
    store = engine_store
    seed = Seeder(home, store)
    with store.session() as s:
        det = seed.detection(s)
        case = review.confirm(s, det.id, actor="reviewer")
        n = letters.draft(s, platform="fixture", actor="legal", case_ids=[case.id])
        letters.approve(s, n.id, actor="legal")
        letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x", sent_at=T0)
        notice_id = n.id
    statements = ["UPDATE notice_events SET actor = 'someone else'", "DELETE FROM notice_events"]
    if store.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE notice_events")
    for sql in statements:
        with pytest.raises(sa.exc.DatabaseError, match="letter events are append-only"):
            with store.engine.begin() as conn:
                conn.execute(sa.text(sql))
    with store.session() as s:
        evs = s.scalars(sa.select(NoticeEvent).where(NoticeEvent.notice_id == notice_id)
                        .order_by(NoticeEvent.seq)).all()
        assert [(e.event, e.actor) for e in evs] == [("draft", "legal"), ("approve", "legal"), ("send", "legal")]
        # appending stays possible: the trail grows, it is never rewritten
        letters.retract(s, notice_id, actor="legal", reason="sent to the wrong platform")
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(NoticeEvent)
                        .where(NoticeEvent.notice_id == notice_id)) == 4
