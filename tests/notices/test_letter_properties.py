"""Stateful property tests: random sequences of case and letter events keep cases and letters in step.

Hypothesis drives the public paths (the functions the web app calls, and the CLI
for some events) in random order over a few cases; after every step the records
must say one coherent thing:

- no letter is wedged: an open letter (draft or approved) covers at least one case,
  and every case it covers sits in it, drafted;
- every drafted case is in exactly one open letter, the one its ``notice_id`` names;
- every sending of a case is in exactly one sent (or later retracted) revision, a new one each
  time it is sent again after a rejection and resubmission;
- a sent revision lists exactly the cases it covered when it was sent, and its
  content (hash kept) names exactly those items;
- a refused event changes nothing, even left uncommitted in the session;
- the monthly report's "cases notified" equals the cases of the letters it counts.

Each example runs on a fresh copy of one migrated store, in its own data home.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings as hsettings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from earwitness.app.cli import main
from earwitness.kernel import settings
from earwitness.kernel.store import Store, db as store_db
from earwitness.kernel.store.case_models import Case, CaseEvent, Notice
from earwitness.kernel.store.models import utcnow
from notices import cases, letter_lifecycle, letters, lifecycle, report, review
from notices.exceptions import NoticesError

from tests.notices.conftest import Seeder

N_CASES = 4
CASE_EVENTS = ["withdraw_draft", "withdraw", "send_notice", "draft_notice", "verify_removed",
               "resolve", "counter_notice", "restore", "escalate", "close", "retract_notice",
               "notice_rejected", "resubmit", "complain_to_regulator", "reappeared"]
DETAILS = {"verify_removed": {"check": "HTTP 404"}, "reappeared": {"check": "HTTP 200 twice"}, "counter_notice": {"basis": "dmca_512g"},
           "send_notice": {"channel": "email", "recipient": "x"}, "notice_rejected": {"answer": "no"},
           "complain_to_regulator": {"channel": "12315"}}
REASONS = {"withdraw_draft", "withdraw", "restore", "escalate", "retract_notice", "resubmit",
           "complain_to_regulator"}


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """One migrated SQLite file, copied for every example."""
    folder = tmp_path_factory.mktemp("template")
    url = f"sqlite:///{folder / 'earwitness.db'}"
    Store(url).dispose()
    return folder / "earwitness.db"


def _snapshot(s) -> tuple:
    s.flush()
    cs = tuple((c.id, c.state, c.notice_id) for c in s.scalars(select(Case).order_by(Case.id)))
    ns = tuple((n.id, n.state, tuple(sorted(c.id for c in n.cases)), len(n.events))
               for n in s.scalars(select(Notice).order_by(Notice.id)))
    evs = len(s.scalars(select(CaseEvent)).all())
    return cs, ns, evs


class LettersAndCases(RuleBasedStateMachine):
    template: Path = None     # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="ew-props-"))
        self.home = self.tmp / "home"
        self.home.mkdir()
        shutil.copyfile(self.template, self.home / "earwitness.db")
        settings.configure(self.home)
        self.url = settings.get().store_url
        self.store = Store(self.url, migrate=False)
        seeder = Seeder(self.home, self.store)
        with self.store.session() as s:
            self.case_ids = [review.confirm(s, seeder.detection(s, work_id=f"T00{i + 1}", seed=i + 3).id,
                                            actor="reviewer").id for i in range(N_CASES)]
        self.refusals = 0

    def teardown(self) -> None:
        self.store.dispose()
        cached = store_db._stores.pop(self.url, None)
        if cached is not None:
            cached.dispose()
        settings.configure(None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- one step: applied fully, or refused leaving the session as it was ------------------------

    def _step(self, fn) -> bool:
        with self.store.session() as s:
            before = _snapshot(s)
            try:
                fn(s)
                return True
            except NoticesError:
                assert _snapshot(s) == before, "a refused event changed the records"
                self.refusals += 1
                return False

    def _letter_ids(self, *states: str) -> list[str]:
        with self.store.session() as s:
            return list(s.scalars(select(Notice.id).where(Notice.state.in_(states)).order_by(Notice.id)))

    def _cli(self, *args: str) -> int:
        res = CliRunner().invoke(main, ["--home", str(self.home), *args], env={"EARWITNESS_ACTOR": "lee"})
        assert res.exception is None or isinstance(res.exception, SystemExit), res.output
        return res.exit_code

    # --- rules -------------------------------------------------------------------------------------

    @rule(pick=st.sets(st.integers(0, N_CASES - 1), min_size=1, max_size=N_CASES))
    def draft(self, pick) -> None:
        ids = [self.case_ids[i] for i in sorted(pick)]
        with self.store.session() as s:
            all_confirmed = all(s.get(Case, i).state == "confirmed" for i in ids)
        done = self._step(lambda s: letters.draft(s, platform="fixture", lang="en", actor="legal",
                                                  case_ids=ids))
        assert done == all_confirmed

    @rule(i=st.integers(0, 20), via_cli=st.booleans())
    def approve(self, i, via_cli) -> None:
        ids = self._letter_ids(*letter_lifecycle.STATES)
        if not ids:
            return
        nid = ids[i % len(ids)]
        with self.store.session() as s:
            expected = s.get(Notice, nid).state == "draft"
        if via_cli:
            done = self._cli("notices", "approve", nid) == 0
        else:
            done = self._step(lambda s: letters.approve(s, nid, actor="legal"))
        assert done == expected

    @rule(i=st.integers(0, 20), via_cli=st.booleans())
    def send(self, i, via_cli) -> None:
        ids = self._letter_ids(*letter_lifecycle.STATES)
        if not ids:
            return
        nid = ids[i % len(ids)]
        with self.store.session() as s:
            expected = s.get(Notice, nid).state == "approved"
        at = utcnow() - timedelta(seconds=1)
        if via_cli:
            done = self._cli("notices", "send", nid, "--channel", "email", "--to", "x",
                             "--at", at.isoformat()) == 0
        else:
            done = self._step(lambda s: letters.mark_sent(s, nid, actor="legal", channel="email",
                                                          recipient="x", sent_at=at))
        assert done == expected, "an approved letter must always be sendable (never wedged)"

    @rule(i=st.integers(0, 20), via_cli=st.booleans())
    def withdraw_letter(self, i, via_cli) -> None:
        ids = self._letter_ids(*letter_lifecycle.STATES)
        if not ids:
            return
        nid = ids[i % len(ids)]
        with self.store.session() as s:
            expected = s.get(Notice, nid).state in letter_lifecycle.OPEN
        if via_cli:
            done = self._cli("notices", "withdraw", nid, "--reason", "changed mind") == 0
        else:
            done = self._step(lambda s: letters.withdraw(s, nid, actor="legal", reason="changed mind"))
        assert done == expected, "an open letter must always be withdrawable (never wedged)"

    @rule(i=st.integers(0, 20))
    def retract_letter(self, i) -> None:
        ids = self._letter_ids("sent")
        if ids:
            nid = ids[i % len(ids)]
            self._step(lambda s: letters.retract(s, nid, actor="legal", reason="wrong platform"))

    @rule(c=st.integers(0, N_CASES - 1), event=st.sampled_from(CASE_EVENTS), via_cli=st.booleans())
    def case_event(self, c, event, via_cli) -> None:
        case_id = self.case_ids[c]
        details = dict(DETAILS.get(event, {}))
        if event == "counter_notice" or event == "send_notice":
            details["received_at" if event == "counter_notice" else "sent_at"] = utcnow() - timedelta(seconds=1)
        reason = "because" if event in REASONS else None
        with self.store.session() as s:
            state = s.get(Case, case_id).state
        allowed = state in lifecycle.TRANSITIONS[event].sources and event not in lifecycle.LETTER_ONLY
        if via_cli and event in ("withdraw", "withdraw_draft", "verify_removed", "resolve", "close"):
            args = ["cases", event.replace("_", "-"), case_id]
            if reason:
                args += ["--reason", reason]
            if event == "verify_removed":
                args += ["--check", "HTTP 404"]
            done = self._cli(*args) == 0
        else:
            done = self._step(lambda s: cases.apply(s, case_id, event, actor="legal", reason=reason,
                                                    **details))
        assert done == allowed, (event, state)

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def cases_and_letters_agree(self) -> None:
        with self.store.session() as s:
            notices = list(s.scalars(select(Notice)))
            open_of: dict[str, list[str]] = {}
            sent_of: dict[str, list[str]] = {}
            for n in notices:
                ids = sorted(c.id for c in n.cases)
                assert n.state in letter_lifecycle.STATES
                if n.state in letter_lifecycle.OPEN:
                    assert ids, f"open letter {n.id} covers no case (wedged)"
                    for c in n.cases:
                        assert c.state == "notice_drafted" and c.notice_id == n.id, (n.id, c.id, c.state)
                        open_of.setdefault(c.id, []).append(n.id)
                if n.sent_at is not None:
                    for c in n.cases:
                        sent_of.setdefault(c.id, []).append(n.id)
                    send = [e for e in n.events if e.event == "send"]
                    assert len(send) == 1 and sorted(send[0].details["cases"]) == ids
                    assert sorted(it["case_id"] for it in n.content["items"]) == ids
                assert n.content_sha256 == letters.content_sha256(n.content), "a revision's hash changed"
            for case in s.scalars(select(Case)):
                sent_events = [e for e in case.events if e.event == "send_notice"]
                if case.state == "notice_drafted":
                    assert open_of.get(case.id) == [case.notice_id], case.id
                else:
                    assert case.id not in open_of, f"{case.state} case {case.id} still in an open letter"
                # each sending (a resubmitted case is sent again, by a new letter) is in exactly one
                # sent revision, a different one each time, and the case points at the latest
                sent_by = [e.details["notice_id"] for e in sent_events]
                assert sorted(sent_by) == sorted(sent_of.get(case.id, [])), case.id
                assert len(set(sent_by)) == len(sent_by), case.id
                if case.state in lifecycle.AFTER_SENT:
                    assert sent_by and case.notice_id == sent_by[-1], case.id

    @invariant()
    def report_counts_agree(self) -> None:
        with self.store.session() as s:
            month = utcnow().astimezone(settings.get().local_zone) \
                .strftime("%Y-%m")
            rep = report.monthly(s, month)
            sent = [n for n in s.scalars(select(Notice).where(Notice.sent_at.is_not(None)))]
            assert rep.totals["letters"] == len(sent)
            assert rep.totals["notified"] == len({c.id for n in sent for c in n.cases})   # a case sent twice counts once


def test_cases_and_letters_stay_in_step(template_db):
    LettersAndCases.template = template_db
    runner = LettersAndCases.TestCase
    runner.settings = hsettings(max_examples=15, stateful_step_count=20, deadline=None, derandomize=True,
                                database=None, suppress_health_check=list(HealthCheck))
    runner().runTest()
