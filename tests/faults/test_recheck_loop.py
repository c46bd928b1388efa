"""Issue 16: the re-check loop contains each case, is honest about failure, and stops between cases.

The probe is the collaborator the application hands in (``probe(url, platform)``);
here it answers from a script and, for one case, raises, as a crashed fetch would.
Everything else is real: the store, the case engine, the daemon's judgement of the run.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from threading import Event

from sqlalchemy import select

from crawler.recheck import ProbeResult
from earwitness.app import jobs, stage_jobs
from earwitness.kernel.store.case_models import Case, CaseEvent
from earwitness.kernel.store.models import utcnow
from notices import cases, recheck


class ScriptedProbe:
    """Answers ``up`` (or ``gone``) for every URL; raises for the URLs in ``broken``; runs
    ``before`` (url) first, so a test can act while a probe is in flight."""

    def __init__(self, *, broken=(), outcome="up", before=None) -> None:
        self.broken, self.outcome, self.before, self.seen = set(broken), outcome, before, []

    def __call__(self, url: str, platform: str) -> ProbeResult:
        self.seen.append(url)
        if self.before:
            self.before(url)
        if url in self.broken:
            raise RuntimeError(f"probe crashed on {url}")
        gone = self.outcome == "gone"
        return ProbeResult(url, platform, gone, "http_404" if gone else "still_up", 404 if gone else 200, utcnow())


def _sent_cases(seed, n: int) -> list[str]:
    return [seed.case("notice_sent") for _ in range(n)]


def _url(store, case_id: str) -> str:
    with store.session() as s:
        return s.get(Case, case_id).url


def _rechecks(store, case_id: str) -> int:
    with store.session() as s:
        return len([e for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))
                    if e.event == "recheck"])


def test_one_case_that_fails_is_recorded_and_the_loop_goes_on(home, store, seed):
    ids = _sent_cases(seed, 3)
    probe = ScriptedProbe(broken={_url(store, ids[1])})
    res = recheck.recheck_due(store, probe=probe)
    assert len(probe.seen) == 3                                   # the loop went past the broken case
    assert (res.checked, res.failed, res.still_up) == (2, 1, 0 + 2)
    assert res.status == "partial"
    out = res.as_dict()
    assert out["status"] == "partial" and ids[1] in out["reason"] and "probe crashed" in out["reason"]
    assert [_rechecks(store, c) for c in ids] == [1, 0, 1]        # the failed case rolled back alone
    with store.session() as s:
        assert s.get(Case, ids[1]).last_checked_at is None        # still due: the next run retries it
    assert jobs.judge(out)[0] == "partial"                        # the daemon records it partial, never ok


def test_a_run_where_every_case_fails_is_failed(home, store, seed):
    ids = _sent_cases(seed, 2)
    res = recheck.recheck_due(store, probe=ScriptedProbe(broken={_url(store, c) for c in ids}))
    assert (res.checked, res.failed, res.status) == (0, 2, "failed")
    assert jobs.judge(res.as_dict())[0] == "failed"


def test_a_case_moved_by_a_person_meanwhile_is_skipped_not_overwritten(home, store, seed, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__NOTICES__REMOVAL_CONFIRMATIONS", "1")
    monkeypatch.setenv("EARWITNESS__NOTICES__REMOVAL_SPAN_HOURS", "0")
    settings.configure(home)
    case_id = seed.case("notice_sent")

    def platform_answers_meanwhile(url: str) -> None:
        with store.session() as s:
            cases.apply(s, case_id, "notice_rejected", actor="legal", answer="not infringing")

    res = recheck.recheck_due(store, probe=ScriptedProbe(outcome="gone", before=platform_answers_meanwhile))
    assert (res.removed, res.skipped, res.failed) == (0, 1, 0)
    with store.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "rejected" and case.removed_at is None
        assert [e.event for e in case.events] == ["opened", "notice_rejected"]


def test_a_stop_ends_the_loop_between_cases_and_the_next_run_resumes(home, store, seed):
    ids = _sent_cases(seed, 3)
    stop = Event()
    probe = ScriptedProbe(before=lambda url: stop.set())        # the daemon is told to stop mid-probe
    res = recheck.recheck_due(store, probe=probe, stop=stop)
    assert (res.checked, res.stopped, res.stopped_by, res.left) == (1, True, "stop", 2)
    assert res.status == "ok"                                    # the case in hand was finished, nothing failed
    assert sum(_rechecks(store, c) for c in ids) == 1
    again = recheck.recheck_due(store, probe=ScriptedProbe())
    assert (again.checked, again.stopped) == (2, False)
    assert [_rechecks(store, c) for c in ids] == [1, 1, 1]       # each case checked once in all


def test_a_deadline_ends_the_loop_and_says_what_is_left(home, store, seed):
    ids = _sent_cases(seed, 2)
    res = recheck.recheck_due(store, probe=ScriptedProbe(), deadline_s=0)
    assert (res.checked, res.stopped_by, res.left, res.status) == (0, "deadline", 2, "partial")
    assert "2 due cases left for the next run" in res.as_dict()["reason"]
    later = recheck.recheck_due(store, probe=ScriptedProbe(), now=utcnow() + timedelta(minutes=1))
    assert later.checked == 2 and all(_rechecks(store, c) == 1 for c in ids)


def test_the_daemon_hands_the_recheck_job_its_stop_signal(home, store, seed):
    """The real job through the daemon's runner: with the daemon stopping, the run ends before its
    first case (nothing probed, nothing sent anywhere) and says the case is left for the next run."""
    assert {"stop", "deadline_s"} <= set(inspect.signature(stage_jobs.recheck).parameters)
    case_id = seed.case("notice_sent")
    spec = jobs.JobSpec(id="recheck", func="earwitness.app.stage_jobs:recheck", trigger={"interval": {"hours": 6}},
                        store=True)
    jobs.STOP.set()
    try:
        run = jobs.run_job("recheck", store=store, spec=spec)
    finally:
        jobs.STOP.clear()
    assert run["result"]["stopped"] is True and run["result"]["stopped_by"] == "stop"
    assert run["result"]["left"] == 1 and run["result"]["checked"] == 0
    assert _rechecks(store, case_id) == 0
