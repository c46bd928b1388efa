"""Issue 16, failures 1 and 2: two real processes on one detection, one item, one bundle.

Each test pauses one process inside the operation (after its read, before its
write), lets the other run to the end, then lets the first go on; the records
must stay right on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from earwitness.kernel.store.case_models import Case, EvidenceBundle, FalsePositive, case_detections
from earwitness.kernel.store.models import Detection

AFTER_READ = "notices.review:get_detection:after"


def _state(store, det_id: str) -> tuple[str, int, int]:
    """(review state, false-positive rows, case links) of one detection."""
    with store.session() as s:
        state = s.scalar(select(Detection.review_state).where(Detection.id == det_id))
        fps = s.scalar(select(func.count()).select_from(FalsePositive).where(FalsePositive.detection_id == det_id))
        links = s.scalar(select(func.count()).select_from(case_detections)
                         .where(case_detections.c.detection_id == det_id))
    return state, fps, links


def test_confirm_loses_to_a_reject_that_landed_after_its_read(db, race, seed):
    det = seed.detection()
    slow = race.start("confirm", det, pause=AFTER_READ, name="confirm")
    race.reached("confirm", slow)
    rc_reject, out_reject = race.result(race.start("reject", det, name="reject"))
    race.release("confirm")
    rc_confirm, out_confirm = race.result(slow)
    assert rc_reject == 0, out_reject
    assert rc_confirm == 3, out_confirm                         # refused, in words, nothing applied
    assert "changed while it was being confirmed" in out_confirm["error"]
    assert _state(db, det) == ("rejected", 1, 0)               # rejected, one false positive, in no case
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_reject_loses_to_a_confirm_that_landed_after_its_read(db, race, seed):
    det = seed.detection()
    slow = race.start("reject", det, pause=AFTER_READ, name="reject")
    race.reached("reject", slow)
    rc_confirm, out_confirm = race.result(race.start("confirm", det, name="confirm"))
    race.release("reject")
    rc_reject, out_reject = race.result(slow)
    assert rc_confirm == 0, out_confirm
    assert rc_reject == 3, out_reject
    assert "changed while it was being rejected" in out_reject["error"]
    assert _state(db, det) == ("confirmed", 0, 1)              # confirmed, in its case, no false positive


def test_two_confirms_on_one_item_open_one_case(db, race, seed):
    first = seed.detection(media_id="item-1", work_id="T001")
    second = seed.detection(media_id="item-1", work_id="T002")
    # paused after looking for the item's open case and finding none, before opening one
    slow = race.start("confirm", first, pause="notices.cases:_previous_removed:after", name="first")
    race.reached("first", slow)
    other = race.start("confirm", second, mark="notices.review:confirm", name="second")
    race.entered("second", other)   # PostgreSQL: the second opens its case; SQLite: it waits for the write lock
    race.release("first")
    rc1, out1 = race.result(slow)
    rc2, out2 = race.result(other)
    assert (rc1, rc2) == (0, 0), (out1, out2)
    assert out1["case"] == out2["case"]
    with db.session() as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == 1
        assert sorted(d.id for d in cases[0].detections) == sorted([first, second])


def test_the_database_refuses_a_second_open_case_for_one_item(db):
    from earwitness.kernel.store.models import utcnow
    now = utcnow()
    with db.session() as s:
        s.add(Case(platform="fixture", media_id="item-1", url="u", state="confirmed", opened_at=now, state_since=now))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(Case(platform="fixture", media_id="item-1", url="u", state="notice_sent", opened_at=now,
                       state_since=now))
    with db.session() as s:   # a closed case and a new open one for one item may coexist
        s.add(Case(platform="fixture", media_id="item-1", url="u", state="closed", opened_at=now, state_since=now))
        s.add(Case(platform="fixture", media_id="item-2", url="u", state="confirmed", opened_at=now,
                   state_since=now))


def test_two_writers_build_one_bundle_and_the_ledger_holds(db, race, seed, home):
    from notices import ledger
    det = seed.detection()
    # paused after checking that no bundle exists and hashing the files, before the manifest is written
    slow = race.start("bundle", det, pause="notices.evidence:metadata:after", name="first")
    race.reached("first", slow)
    other = race.start("bundle", det, mark="notices.evidence:build_bundle", name="second")
    race.entered("second", other)   # the second has checked for the bundle (and waits, or built its own)
    race.release("first")
    rc1, out1 = race.result(slow)
    rc2, out2 = race.result(other)
    assert (rc1, rc2) == (0, 0), (out1, out2)
    assert out1["bundle"] == out2["bundle"]
    with db.session() as s:
        bundles = s.scalars(select(EvidenceBundle)).all()
    assert len(bundles) == 1
    entries = [e for e in ledger.read(home) if e.get("kind") == "evidence_bundle"]
    assert [e["detection_id"] for e in entries] == [det]            # no orphan entry
    report = ledger.verify(home, store=db)
    assert report.ok, [str(p) for p in report.problems]
    manifest = json.loads((home / bundles[0].manifest_path).read_text())
    assert manifest["bundle_id"] == bundles[0].id
