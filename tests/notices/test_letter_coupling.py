"""Issue 12, failure 1: a case and its letter move together (revisions, no wedged letters, sent only by letter).

Each test here failed on the code before the letter lifecycle: withdrawing one
case of a draft left it printed in the letter and wedged the letter; a single case
could be marked sent while its letter stayed a draft.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from earwitness.app.cli import main
from earwitness.kernel.store.case_models import Case, Notice
from notices import cases, letters, report, review
from notices.exceptions import LetterOnlyEvent, NoticesError

from tests.notices.conftest import T0, send_letter


def _drafted(s, seed, n=3):
    cs = [review.confirm(s, seed.detection(s, work_id=f"T00{i + 1}", seed=i + 3).id, actor="reviewer")
          for i in range(n)]
    return cs, letters.draft(s, platform="fixture", lang="en", actor="legal")


@pytest.mark.parametrize("event,case_state", [("withdraw", "closed"), ("withdraw_draft", "confirmed")])
def test_withdrawing_a_case_revises_its_letter(store, seed, event, case_state):
    with store.session() as s:
        cs, old = _drafted(s, seed)
        old_sha, old_text = old.content_sha256, letters.plain_text(old.content)
        cases.apply(s, cs[0].id, event, actor="legal", reason="licence found")
        assert cs[0].state == case_state and cs[0].notice_id is None
        # the old revision is kept as it was, superseded; a new draft covers the others
        assert old.state == "superseded" and old.content_sha256 == old_sha
        assert letters.content_sha256(old.content) == old_sha and cs[0].url in old_text
        new = s.get(Notice, old.superseded_by_id)
        assert (new.state, new.revision, new.series_id, new.supersedes_id) == ("draft", 2, old.id, old.id)
        assert [c.id for c in new.cases] == [cs[1].id, cs[2].id]
        assert cs[0].url not in letters.plain_text(new.content)
        assert all(c.notice_id == new.id and c.events[-1].event == "letter_revised" for c in cs[1:])
        assert [e.event for e in old.events] == ["draft", "revise"]
        assert old.events[-1].details["removed_case"] == cs[0].id
        # the stale revision can be neither sent nor withdrawn; the new one goes out
        with pytest.raises(NoticesError, match="superseded"):
            letters.approve(s, old.id, actor="legal")
        send_letter(s, new)
        assert [c.state for c in cs[1:]] == ["notice_sent"] * 2 and cs[0].state == case_state
        if event == "withdraw_draft":       # back in the queue: a letter of its own
            again = letters.draft(s, platform="fixture", lang="en", actor="legal")
            assert [c.id for c in again.cases] == [cs[0].id]


def test_last_case_withdrawn_withdraws_the_letter(store, seed):
    with store.session() as s:
        cs, notice = _drafted(s, seed, n=1)
        cases.apply(s, cs[0].id, "withdraw", actor="legal", reason="mistake")
        assert notice.state == "withdrawn" and cs[0].state == "closed"
        assert notice.events[-1].details["by_case_event"] == "withdraw"


def test_a_case_is_sent_only_by_its_letter(store, seed, home):
    with store.session() as s:
        cs, notice = _drafted(s, seed, n=3)
        with pytest.raises(LetterOnlyEvent, match=f"notices send {notice.id}"):
            cases.apply(s, cs[0].id, "send_notice", actor="legal", channel="email", recipient="x",
                        sent_at=T0)
        assert cs[0].state == "notice_drafted"
        case_id, notice_id = cs[0].id, notice.id
    res = CliRunner().invoke(main, ["--home", str(home), "cases", "send-notice", case_id,
                                    "--channel", "email", "--recipient", "x", "--sent-at", T0.isoformat()])
    assert res.exit_code != 0
    with store.session() as s:
        assert s.get(Case, case_id).state == "notice_drafted"
        notice = s.get(Notice, notice_id)
        send_letter(s, notice)
        rep = report.monthly(s, "2026-03")
        assert (rep.totals["notified"], rep.totals["letters"]) == (3, 1)


def test_cli_withdraw_revises_and_the_rest_is_sent(store, seed, home):
    with store.session() as s:
        cs, notice = _drafted(s, seed, n=2)
        ids, notice_id = [c.id for c in cs], notice.id
    run = CliRunner().invoke
    res = run(main, ["--home", str(home), "cases", "withdraw", ids[0], "--reason", "licence found"],
              env={"EARWITNESS_ACTOR": "lee"})
    assert res.exit_code == 0, res.output
    with store.session() as s:
        new_id = s.get(Notice, notice_id).superseded_by_id
    for args in (["notices", "approve", new_id],
                 ["notices", "send", new_id, "--channel", "email", "--to", "x", "--at", T0.isoformat()]):
        res = run(main, ["--home", str(home), *args], env={"EARWITNESS_ACTOR": "lee"})
        assert res.exit_code == 0, res.output
    with store.session() as s:
        assert [s.get(Case, i).state for i in ids] == ["closed", "notice_sent"]
        sent = s.get(Notice, new_id)
        assert sent.state == "sent" and [c.id for c in sent.cases] == [ids[1]]


def test_refused_letter_events_change_nothing(store, seed):
    with store.session() as s:
        cs, notice = _drafted(s, seed, n=2)
        send_letter(s, notice)
        cases.apply(s, cs[0].id, "verify_removed", actor="recheck", check="HTTP 404")
        before = [(c.state, len(c.events)) for c in cs], notice.state, len(notice.events)
        with pytest.raises(NoticesError, match=f"case {cs[0].id} is removed"):
            letters.retract(s, notice.id, actor="legal", reason="wrong platform")
        with pytest.raises(NoticesError, match="not allowed"):
            letters.withdraw(s, notice.id, actor="legal", reason="too late")
        s.flush()
        assert ([(c.state, len(c.events)) for c in cs], notice.state, len(notice.events)) == before


def test_retract_closes_every_case(store, seed):
    with store.session() as s:
        cs, notice = _drafted(s, seed, n=2)
        send_letter(s, notice)
        letters.retract(s, notice.id, actor="legal", reason="sent to the wrong platform")
        assert notice.state == "withdrawn" and [c.state for c in cs] == ["closed", "closed"]
