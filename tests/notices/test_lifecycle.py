"""Every transition, every illegal one, deadlines, the append-only trail, re-uploads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from notices import case_engine, cases, lifecycle, review
from notices.exceptions import MissingDetails, NoticesError, ReviewError, TransitionNotAllowed
from earwitness.kernel.store.case_models import Case, CaseEvent

from tests.notices.conftest import T0

SENT = {"channel": "email", "recipient": "copyright@fixture.invalid", "sent_at": T0}
DETAILS = {
    "draft_notice": {"notice_id": "N1"},
    "withdraw_draft": {"reason": "wrong recipient"},
    "send_notice": SENT,
    "verify_removed": {"check": "HTTP 404"},
    "resolve": {},
    "counter_notice": {"basis": "civil_code_1196", "received_at": T0},
    "restore": {"reason": "no complaint filed in the period"},
    "escalate": {"reason": "suit filed"},
    "close": {},
    "withdraw": {"reason": "licence found"},
    "retract_notice": {"reason": "sent to the wrong platform"},
    "notice_rejected": {"answer": "insufficient proof of title"},
    "complain_to_regulator": {"channel": "国家版权局 online complaint", "reason": "platform ignored two notices"},
    "resubmit": {"reason": "title documents added"},
    "reappeared": {"check": "HTTP 200 twice, 24 h apart"},
}
# a path of events that reaches each state from confirmed
PATH_TO = {
    "confirmed": [],
    "notice_drafted": ["draft_notice"],
    "notice_sent": ["draft_notice", "send_notice"],
    "removed": ["draft_notice", "send_notice", "verify_removed"],
    "resolved": ["draft_notice", "send_notice", "verify_removed", "resolve"],
    "disputed": ["draft_notice", "send_notice", "counter_notice"],
    "restored": ["draft_notice", "send_notice", "counter_notice", "restore"],
    "escalated": ["draft_notice", "send_notice", "counter_notice", "escalate"],
    "rejected": ["draft_notice", "send_notice", "notice_rejected"],
    "closed": ["withdraw"],
}


def _apply(s, case_id, event):
    """The case engine alone (letters are left out here: tests/notices/test_letter_coupling.py)."""
    d = dict(DETAILS[event])
    reason = d.pop("reason", None)
    return case_engine.transition(s, case_id, event, actor="tester", reason=reason, **d)


def _case_in(s, seed, state) -> Case:
    det = seed.detection(s)
    case = review.confirm(s, det.id, actor="reviewer")
    for ev in PATH_TO[state]:
        _apply(s, case.id, ev)
    assert case.state == state
    return case


def test_declaration_is_consistent():
    for t in lifecycle.TRANSITIONS.values():
        assert t.target in lifecycle.STATES
        assert set(t.sources) <= set(lifecycle.STATES)
    assert set(PATH_TO) == set(lifecycle.STATES)
    assert lifecycle.events_from("closed") == []


@pytest.mark.parametrize("state", lifecycle.STATES)
def test_every_transition_and_every_illegal_one(store, seed, state):
    """From each state, every declared event: allowed ones move, the others raise and change nothing."""
    with store.session() as s:
        for event, t in lifecycle.TRANSITIONS.items():
            case = _case_in(s, seed, state)
            n_events = len(case.events)
            if state in t.sources:
                _apply(s, case.id, event)
                assert case.state == t.target, event
                last = case.events[-1]
                assert (last.event, last.from_state, last.to_state, last.actor) == \
                    (event, state, t.target, "tester")
            else:
                with pytest.raises(TransitionNotAllowed) as info:
                    _apply(s, case.id, event)
                assert f"event {event!r} is not allowed in state {state!r}" in str(info.value)
                assert case.state == state and len(case.events) == n_events, event


def test_allowed_events_match_declaration(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "disputed")
        assert cases.allowed_events(case) == ["restore", "escalate"]


def test_send_needs_channel_recipient_time(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "notice_drafted")
        with pytest.raises(MissingDetails, match="channel"):
            case_engine.transition(s, case.id, "send_notice", actor="legal", recipient="x", sent_at=T0)
        with pytest.raises(MissingDetails, match="timezone-aware"):
            case_engine.transition(s, case.id, "send_notice", actor="legal", channel="email", recipient="x",
                        sent_at=datetime(2026, 3, 2))
        assert case.state == "notice_drafted"
        case_engine.transition(s, case.id, "send_notice", actor="legal", channel="email", recipient="x",
                    sent_at="2026-03-02T10:00:00+08:00")
        assert case.sent_at == datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
        assert case.sla_due_at == case.sent_at + timedelta(days=3)
        ev = case.events[-1]
        assert ev.details["channel"] == "email" and ev.details["recipient"] == "x"


def test_withdraw_needs_reason(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "confirmed")
        with pytest.raises(MissingDetails, match="reason"):
            cases.apply(s, case.id, "withdraw", actor="legal")


def test_overdue_after_sla(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "notice_sent")
        assert not case.is_overdue(T0 + timedelta(days=2, hours=23))
        assert case.is_overdue(T0 + timedelta(days=3, seconds=1))
        assert [c.id for c in cases.list_cases(s, overdue=True, now=T0 + timedelta(days=4))] == [case.id]
        assert cases.list_cases(s, overdue=True, now=T0 + timedelta(days=1)) == []


UTC = timezone.utc


@pytest.mark.parametrize("basis,received,deadline,latest", [
    # T0 is Monday 2 March 17:00 Beijing: days count from Tuesday 3 March; the 15th, Tuesday
    # 17 March, is a working day; its 24:00 Beijing is 16:00 UTC
    ("ecommerce_art43", T0, datetime(2026, 3, 17, 16, 0, tzinfo=UTC), None),
    ("civil_code_1196", T0, datetime(2026, 3, 17, 16, 0, tzinfo=UTC), None),
    # Monday 2 March (04:00 New York) + 10 business days = Monday 16 March, ends 24:00 EDT;
    # + 14 = Friday 20 March
    ("dmca_512g", T0, datetime(2026, 3, 17, 4, 0, tzinfo=UTC), "2026-03-21T00:00:00-04:00"),
    # Friday 6 March + 10 business days = Friday 20 March
    ("dmca_512g", T0 + timedelta(days=4), datetime(2026, 3, 21, 4, 0, tzinfo=UTC), "2026-03-27T00:00:00-04:00"),
])
def test_dispute_deadlines(store, seed, basis, received, deadline, latest):
    with store.session() as s:
        case = _case_in(s, seed, "removed")
        cases.apply(s, case.id, "counter_notice", actor="legal", basis=basis, received_at=received)
        assert case.state == "disputed" and case.dispute_basis == basis
        assert case.deadline_at == deadline
        details = case.events[-1].details
        assert details["counts_from"] == ("rights_holder" if basis == "civil_code_1196" else "platform")
        if latest:
            assert details["restore_not_after"] == latest and details["zone"] == "America/New_York"
        else:
            assert details["zone"] == "Asia/Shanghai" and details["deadline_local"] == "2026-03-18T00:00:00+08:00"


def test_reasonable_period_is_configurable(store, seed, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__NOTICES__DISPUTE__CIVIL_CODE_1196_DAYS", "20")
    settings.configure(seed.home)
    with store.session() as s:
        case = _case_in(s, seed, "notice_sent")
        cases.apply(s, case.id, "counter_notice", actor="legal", basis="civil_code_1196",
                    received_at=T0)
        # the 20th day, Sunday 22 March, is a rest day: the period ends with Monday 23 March
        assert case.deadline_at == datetime(2026, 3, 23, 16, 0, tzinfo=UTC)


def test_impossible_counter_notice_times_refused(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "notice_sent")        # sent at T0
        for when, why in ((T0 - timedelta(hours=1), "predates the notice"),
                          (datetime.now(UTC) + timedelta(days=1), "in the future")):
            with pytest.raises(MissingDetails, match=why):
                cases.apply(s, case.id, "counter_notice", actor="legal", basis="dmca_512g", received_at=when)
        assert case.state == "notice_sent"


def test_unknown_basis_refused(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "removed")
        with pytest.raises(MissingDetails, match="basis"):
            cases.apply(s, case.id, "counter_notice", actor="x", basis="whim", received_at=T0)
        assert case.state == "removed"


def test_events_are_append_only(store, seed):
    with store.session() as s:
        case_id = _case_in(s, seed, "notice_sent").id
    with pytest.raises(ValueError, match="append-only"):
        with store.session() as s:
            ev = s.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id)).first()
            ev.reason = "rewritten"
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE case_events SET reason='x'"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM case_events"))
    with store.session() as s:
        evs = s.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id)
                        .order_by(CaseEvent.seq)).all()
        assert [e.event for e in evs] == ["opened", "draft_notice", "send_notice"]
        assert [e.seq for e in evs] == [1, 2, 3]


def test_one_case_per_item_and_later_detections_attach(store, seed):
    with store.session() as s:
        d1 = seed.detection(s, media_id="same")
        d2 = seed.detection(s, work_id="T002", media_id="same")
        c1 = review.confirm(s, d1.id, actor="r")
        c2 = review.confirm(s, d2.id, actor="r")
        assert c1.id == c2.id and c1.work_ids() == ["T001", "T002"]
        assert [e.event for e in c1.events] == ["opened", "detection_attached"]
        assert review.confirm(s, d1.id, actor="r").id == c1.id   # idempotent


def test_reupload_of_removed_content_opens_linked_case(store, seed):
    with store.session() as s:
        old = _case_in(s, seed, "removed")
        old_clip = old.detections[0].clip
        # the same audio uploaded again under a new media id
        det = seed.detection(s, clip=seed.clip(s, media_id="again", audio_sha256=old_clip.audio_sha256))
        new = review.confirm(s, det.id, actor="r")
        assert new.id != old.id and new.previous_case_id == old.id and new.state == "confirmed"
        assert old.events[-1].event == "reupload_found"
        assert old.events[-1].details["new_case_id"] == new.id
        # and the same item id coming back after removal
        det2 = seed.detection(s, work_id="T003", clip=seed.clip(s, media_id=old.media_id))
        again = review.confirm(s, det2.id, actor="r")
        assert again.previous_case_id == old.id
        # the same work from the same uploader, in different bytes (re-encoded, re-cut)
        det3 = seed.detection(s, clip=seed.clip(s, media_id="recut", seed=99, uploader=old_clip.uploader))
        assert det3.clip.audio_sha256 != old_clip.audio_sha256
        recut = review.confirm(s, det3.id, actor="r")
        assert recut.previous_case_id == old.id and old.events[-1].details["new_case_id"] == recut.id
        # the same work from someone else is a new case, not a re-upload
        det4 = seed.detection(s, clip=seed.clip(s, media_id="other", seed=98, uploader="someone_else"))
        assert review.confirm(s, det4.id, actor="r").previous_case_id is None


def test_reject_keeps_known_false_positive(store, seed):
    with store.session() as s:
        det = seed.detection(s)
        with pytest.raises(MissingDetails):
            review.reject(s, det.id, actor="r", reason=" ")
        review.reject(s, det.id, actor="r", reason="cover with licence")
        assert det.review_state == "rejected"
        assert review.is_known_false_positive(s, det.clip.audio_sha256, "T001")
        assert not review.is_known_false_positive(s, det.clip.audio_sha256, "T002")
        with pytest.raises(ReviewError):
            review.confirm(s, det.id, actor="r")
        assert review.pending(s) == []


def test_pending_filters_and_auto_confirm(store, seed, monkeypatch):
    from earwitness.kernel import settings
    with store.session() as s:
        hi = seed.detection(s, score=120.0)
        lo = seed.detection(s, score=15.0, platform="other")
        assert [d.id for d in review.pending(s, min_score=30)] == [hi.id]
        assert [d.id for d in review.pending(s, platform="other")] == [lo.id]
        assert review.auto_confirm(s) == 0          # off by default
    monkeypatch.setenv("EARWITNESS__NOTICES__AUTO_CONFIRM__ENABLED", "true")
    settings.configure(seed.home)
    with store.session() as s:
        assert review.auto_confirm(s) == 1
        assert s.get(type(hi), hi.id).review_state == "confirmed"
        assert s.get(type(lo), lo.id).review_state == "pending"
        assert cases.case_for_detection(s, hi.id).events[0].actor == review.AUTO_ACTOR


def test_counter_notice_basis_defaults_per_platform(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "notice_sent")
        cases.apply(s, case.id, "counter_notice", actor="legal", received_at=T0)
        assert case.dispute_basis == "civil_code_1196"      # config: dispute.default_basis.default
        # the 15th day after Monday 2 March ends Tuesday 17 March 24:00 Beijing (16:00 UTC)
        assert not case.deadline_passed(datetime(2026, 3, 17, 16, 0, tzinfo=timezone.utc))
        assert case.deadline_passed(datetime(2026, 3, 17, 16, 0, 1, tzinfo=timezone.utc))


def test_rejected_notice_follow_up_escalation_resubmission(store, seed):
    with store.session() as s:
        case = _case_in(s, seed, "rejected")
        cases.follow_up(s, case.id, channel="email", text="asked which proof they need", actor="legal")
        assert case.events[-1].event == "follow_up" and case.state == "rejected"
        cases.apply(s, case.id, "resubmit", actor="legal", reason="title documents added")
        assert case.state == "confirmed"             # a new letter can cover it now
        other = _case_in(s, seed, "notice_sent")
        cases.apply(s, other.id, "complain_to_regulator", actor="legal", channel="12315",
                    reason="ignored for 30 days")
        assert other.state == "escalated"
        with pytest.raises(NoticesError, match="follow-up is for a sent or rejected notice"):
            cases.follow_up(s, case.id, channel="email", text="x", actor="legal")
