"""Two real processes moving one case: exactly one transition applies, the other is refused in words.

One process is paused inside the case engine after it has read the case (the
test hook of racer.py), the other applies its event to the end, then the first
goes on. On SQLite and on PostgreSQL the case must end in the winner's state,
with the winner's event alone on its timeline, and the loser told what happened.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from earwitness.kernel.store.case_models import Case, CaseEvent

AFTER_READ = "notices.case_engine:get_case:after"
CHECK = "check=" + json.dumps({"outcome": "gone", "reason": "http_404", "checked_at": "2026-03-09T09:00:00+00:00"})


def _case(store, case_id: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(state, [(event, from, to)...] of the moves after opening) of one case."""
    with store.session() as s:
        state = s.scalar(select(Case.state).where(Case.id == case_id))
        moves = [(e.event, e.from_state, e.to_state) for e in
                 s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
                 if e.event != "opened"]
    return state, moves


def test_a_removal_loses_to_a_rejection_that_landed_after_its_read(db, race, seed):
    case = seed.case("notice_sent")
    slow = race.start("apply", case, "verify_removed", CHECK, pause=AFTER_READ, name="removal")
    race.reached("removal", slow)
    rc_fast, out_fast = race.result(race.start("apply", case, "notice_rejected", "answer=not infringing",
                                               name="rejection"))
    race.release("removal")
    rc_slow, out_slow = race.result(slow)
    assert rc_fast == 0, out_fast
    assert rc_slow == 3, out_slow                               # refused, in words, nothing applied
    assert "CaseConflict" in out_slow["error"] and "changed while 'verify_removed'" in out_slow["error"]
    assert "is now 'rejected'" in out_slow["error"]
    assert _case(db, case) == ("rejected", [("notice_rejected", "notice_sent", "rejected")])
    with db.session() as s:
        assert s.get(Case, case).removed_at is None                 # the loser wrote nothing


def test_the_same_event_twice_applies_once(db, race, seed):
    case = seed.case("resolved")
    slow = race.start("apply", case, "close", pause=AFTER_READ, name="first")
    race.reached("first", slow)
    rc_fast, out_fast = race.result(race.start("apply", case, "close", name="second"))
    race.release("first")
    rc_slow, out_slow = race.result(slow)
    assert rc_fast == 0, out_fast
    assert rc_slow == 3, out_slow
    assert _case(db, case) == ("closed", [("close", "resolved", "closed")])


def test_a_case_that_left_its_state_and_came_back_is_not_taken_for_unchanged(db, race, seed):
    """A paused writer read ``confirmed``; meanwhile the case was drafted and the draft withdrawn
    (back to ``confirmed``): the state matches, the version (when it entered the state) does not."""
    case = seed.case("confirmed")
    slow = race.start("apply", case, "withdraw", "reason=licence found", pause=AFTER_READ, name="withdraw")
    race.reached("withdraw", slow)
    for step in (("draft_notice", "notice_id=01NOTICE000000000000000000"),
                 ("withdraw_draft", "reason=draft withdrawn")):
        rc, out = race.result(race.start("transition", case, *step, name=step[0]))
        assert rc == 0, out
    race.release("withdraw")
    rc, out = race.result(slow)
    assert rc == 3, out
    assert "CaseConflict" in out["error"]
    state, moves = _case(db, case)
    assert state == "confirmed"
    assert [m[0] for m in moves] == ["draft_notice", "withdraw_draft"]
