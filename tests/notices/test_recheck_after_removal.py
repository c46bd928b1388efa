"""Paths the lifecycle lacked (issue 12): removed and restored items keep being re-checked on a schedule, an
item up again after its removal reopens its case, a refused or ignored notice is followed up, escalated and
resubmitted, all against a real local HTTP server."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from crawler.recheck import ProbeResult
from earwitness.kernel.store.case_models import Case, Notice
from earwitness.kernel.store.models import utcnow
from notices import cases, jobs, letters, recheck, report, review
from notices.exceptions import NoticesError

from tests.notices.conftest import T0


def http_probe(url: str, platform: str) -> ProbeResult:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return ProbeResult(url, platform, False, "still_up", resp.status, utcnow(), outcome="up")
    except urllib.error.HTTPError as exc:
        gone = exc.code in (404, 410, 451)
        return ProbeResult(url, platform, gone, f"http_{exc.code}" if gone else "error", exc.code, utcnow(),
                           outcome="gone" if gone else "transient")


def _removed_case(store, seed, base, status, media_id="m1"):
    """A case sent on T0 and verified removed a day later (two 404s 24 h apart)."""
    with store.session() as s:
        det = seed.detection(s, media_id=media_id)
        case = review.confirm(s, det.id, actor="r", at=T0)
        case.url = f"{base}/video/{media_id}"
        n = letters.draft(s, platform="fixture", actor="legal", case_ids=[case.id], now=T0)
        letters.approve(s, n.id, actor="legal")
        letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x", sent_at=T0)
        case_id = case.id
    status[media_id] = 404
    recheck.recheck_due(store, probe=http_probe, now=T0 + timedelta(hours=13))
    recheck.recheck_due(store, probe=http_probe, now=T0 + timedelta(hours=38))
    with store.session() as s:
        assert s.get(Case, case_id).state == "removed"
    return case_id


def test_removed_items_are_rechecked_weekly_and_stay_removed(store, seed, site):
    base, status = site
    case_id = _removed_case(store, seed, base, status)
    removed_at = T0 + timedelta(hours=38)
    # not due before a week has passed since its last check
    assert recheck.recheck_after_removal(store, probe=http_probe, now=removed_at + timedelta(days=6))["checked"] == 0
    out = recheck.recheck_after_removal(store, probe=http_probe, now=removed_at + timedelta(days=7, hours=1))
    assert (out["checked"], out["still_gone"], out["reappeared"]) == (1, 1, 0)
    with store.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "removed"
        last = case.events[-1]
        assert (last.event, last.details["check"]["after_removal"], last.details["check"]["outcome"]) == \
            ("recheck", True, "gone")


def test_an_item_up_again_reopens_its_case_after_confirmed_answers(store, seed, site):
    base, status = site
    case_id = _removed_case(store, seed, base, status)
    status["m1"] = 200                                      # the platform put it back
    week = T0 + timedelta(hours=38, days=7, minutes=5)
    out = recheck.recheck_after_removal(store, probe=http_probe, now=week)
    assert (out["up_again"], out["reappeared"]) == (1, 0)   # one answer is not enough to say so
    with store.session() as s:
        assert s.get(Case, case_id).state == "removed"
    # while the run builds, the case is probed at the ordinary interval (12 h), not weekly
    assert recheck.recheck_after_removal(store, probe=http_probe, now=week + timedelta(hours=6))["checked"] == 0
    out = recheck.recheck_after_removal(store, probe=http_probe, now=week + timedelta(hours=25))
    assert out["reappeared"] == 1
    with store.session() as s:
        case = s.get(Case, case_id)
        ev = case.events[-1]
        assert (case.state, ev.event, ev.from_state) == ("notice_sent", "reappeared", "removed")
        assert len(ev.details["check"]["up_run"]) == 2
    # back with the sent notices: a new removal needs new "gone" answers, not the old ones
    status["m1"] = 410
    later = week + timedelta(days=2)
    recheck.recheck_due(store, probe=http_probe, now=later)
    with store.session() as s:
        assert s.get(Case, case_id).state == "notice_sent"
    recheck.recheck_due(store, probe=http_probe, now=later + timedelta(hours=25))
    with store.session() as s:
        assert s.get(Case, case_id).state == "removed"


def test_a_page_up_without_the_music_is_still_removed(store, seed, site):
    base, status = site
    case_id = _removed_case(store, seed, base, status)
    status["m1"] = 200

    def probe_with_audio(url, platform):
        r = http_probe(url, platform)
        r.audio_path = "media/fixture/recheck.wav"
        return r
    out = recheck.recheck_after_removal(store, probe=probe_with_audio, audio_check=lambda case, path: False,
                                        now=T0 + timedelta(days=9))
    assert (out["still_gone"], out["up_again"]) == (1, 0)
    with store.session() as s:
        assert s.get(Case, case_id).events[-1].details["check"]["reason"] == "audio_no_longer_matches"


def test_restored_items_are_rechecked_and_recorded_only(store, seed, site):
    base, status = site
    with store.session() as s:
        det = seed.detection(s, media_id="r1")
        case = review.confirm(s, det.id, actor="r", at=T0)
        case.url = f"{base}/video/r1"
        n = letters.draft(s, platform="fixture", actor="legal", case_ids=[case.id], now=T0)
        letters.approve(s, n.id, actor="legal")
        letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x", sent_at=T0)
        cases.apply(s, case.id, "counter_notice", actor="legal", basis="ecommerce_art43",
                    received_at=T0 + timedelta(days=1), at=T0 + timedelta(days=1))
        cases.apply(s, case.id, "restore", actor="legal", reason="no action within the period",
                    at=T0 + timedelta(days=20))
        case_id = case.id
    out = recheck.recheck_after_removal(store, probe=http_probe, now=T0 + timedelta(days=21))
    assert (out["checked"], out["restored_checked"]) == (1, 1)
    with store.session() as s:
        assert s.get(Case, case_id).state == "restored"


def test_the_daemon_job_runs_both_selections(store, seed, site):
    base, status = site
    _removed_case(store, seed, base, status)
    out = jobs.recheck(store, probe=http_probe)
    assert out["after_removal"]["checked"] == 1 and out["after_removal"]["still_gone"] == 1
    assert out["status"] == "ok"


def test_refused_notice_followed_up_escalated_and_resubmitted(store, seed):
    """The platform refuses: the answer is recorded, followed up, complained about to the regulator on
    one case, and resubmitted by a new letter on the other; the report names the refusal."""
    with store.session() as s:
        ids = []
        for m in ("x1", "x2"):
            det = seed.detection(s, media_id=m, seed=len(ids) + 5)
            ids.append(review.confirm(s, det.id, actor="r", at=T0).id)
        n = letters.draft(s, platform="fixture", actor="legal", case_ids=ids, now=T0)
        letters.approve(s, n.id, actor="legal")
        letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x", sent_at=T0)
        for cid in ids:
            cases.apply(s, cid, "notice_rejected", actor="legal", at=T0 + timedelta(days=2),
                        answer="rights not shown")
            cases.follow_up(s, cid, channel="email", text="title evidence sent again", actor="legal",
                            at=T0 + timedelta(days=3))
        cases.apply(s, ids[0], "complain_to_regulator", actor="legal", channel="12315",
                    reason="refused twice", at=T0 + timedelta(days=5))
        cases.apply(s, ids[1], "resubmit", actor="legal", reason="new evidence", at=T0 + timedelta(days=5))
        again = letters.draft(s, platform="fixture", actor="legal", case_ids=[ids[1]], now=T0 + timedelta(days=5))
        letters.approve(s, again.id, actor="legal")
        letters.mark_sent(s, again.id, actor="legal", channel="email", recipient="x",
                          sent_at=T0 + timedelta(days=5, hours=1))
        first, second = s.get(Case, ids[0]), s.get(Case, ids[1])
        assert (first.state, second.state) == ("escalated", "notice_sent")
        assert [e.event for e in first.events if e.event in ("follow_up", "complain_to_regulator")] == \
            ["follow_up", "complain_to_regulator"]
        sent = [x.id for x in s.query(Notice).filter(Notice.sent_at.is_not(None))]
        assert sorted(sent) == sorted([n.id, again.id]) and second.notice_id == again.id
        with pytest.raises(NoticesError, match="follow-up is for a sent or rejected notice"):
            cases.follow_up(s, ids[0], channel="email", text="x", actor="legal")
        rep = report.monthly(s, "2026-03")
        assert rep.sources["fixture"]["disputed"] == [ids[0]]         # escalated
        assert rep.totals["letters"] == 2 and rep.totals["notified"] == 2


def test_an_ignored_notice_shows_overdue_and_is_followed_up(store, seed, site):
    base, status = site
    with store.session() as s:
        det = seed.detection(s, media_id="ig")
        case = review.confirm(s, det.id, actor="r", at=T0)
        case.url = f"{base}/video/ig"
        n = letters.draft(s, platform="fixture", actor="legal", case_ids=[case.id], now=T0)
        letters.approve(s, n.id, actor="legal")
        letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x", sent_at=T0)
        case_id = case.id
    res = recheck.recheck_due(store, probe=http_probe, now=T0 + timedelta(days=4))
    assert res.overdue == 1 and res.still_up == 1
    with store.session() as s:
        cases.follow_up(s, case_id, channel="phone", text="reminded the platform's team", actor="legal")
        cases.apply(s, case_id, "complain_to_regulator", actor="legal", channel="国家版权局",
                    reason="no answer after the reminder")
        assert s.get(Case, case_id).state == "escalated"
