"""Issue 12, failure 4: a letter claims only what the sender can prove, and a person vouches for it.

Before, ``Work.owner`` was ignored (another company's works were claimed), no title
or identity went with the letter, and auto-confirmed detections went out under a
good-faith statement with no human approval recorded.
"""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml

from earwitness.kernel import settings
from earwitness.kernel.store.models import Work
from notices import export, letters, review
from notices.exceptions import MissingDetails, NoticesError, TitleNotShown

from tests.notices.conftest import T0


def _conf(home, **notices):
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"notices": notices}, allow_unicode=True), "utf-8")
    settings.configure(home)


def _case(s, seeder, work_id="T001", owner="Example Music", **kw):
    det = seeder.detection(s, work_id=work_id, **kw)
    s.get(Work, work_id).owner = owner
    return review.confirm(s, det.id, actor="reviewer")


def test_another_companys_work_is_not_claimed(store, seed, home):
    with store.session() as s:
        ours = _case(s, seed, "T001", seed=1)
        theirs = _case(s, seed, "T002", owner="Other Label Co.", seed=2)
        with pytest.raises(TitleNotShown, match="work T002 .* is owned by 'Other Label Co.'"):
            letters.draft(s, platform="fixture", lang="zh", actor="legal")
        assert (ours.state, theirs.state) == ("confirmed", "confirmed")
        n = letters.draft(s, platform="fixture", lang="zh", actor="legal", case_ids=[ours.id])
        assert [w["id"] for w in n.content["works"]] == ["T001"]


def test_a_work_without_title_evidence_is_not_claimed(store, seed, home):
    _conf(home, holder_owns=["Example Music", "New Label"])
    with store.session() as s:
        _case(s, seed, "T003", owner="New Label")
        with pytest.raises(TitleNotShown, match="work T003 .*no evidence of title on file"):
            letters.draft(s, platform="fixture", lang="en", actor="legal")


def test_a_changed_title_document_is_refused(store, seed, home):
    doc = home / "licence.txt"
    doc.write_text("licence agreement", "utf-8")
    _conf(home, title_evidence={"owners": {}, "works": {"T001": [
        {"kind": "registration_certificate", "title": "作品登记证书", "file": "licence.txt", "sha256": "0" * 64}]}})
    with store.session() as s:
        _case(s, seed, "T001", owner=None)
        with pytest.raises(NoticesError, match="作品登记证书.*changed"):
            letters.draft(s, platform="fixture", lang="zh", actor="legal")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_letter_annexes_title_and_identity(store, seed, home, tmp_path, lang):
    with store.session() as s:
        _case(s, seed, "T001")
        n = letters.draft(s, platform="fixture", lang=lang, actor="legal")
        text = letters.plain_text(n.content)
        assert "91110105MA00EXAMPL" in text
        assert "bf31c1a3a8596084b0ffcb9905780e35e32861b3d9c57b6d24dac53bbe1b7612" in text    # title
        assert "7677f272804dc5630db722b4557446b31820e51b1375d51b389eccba5eda7781" in text    # identity
        z, = export.export(s, n.id, "zip", tmp_path / "out")
    with zipfile.ZipFile(z) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["files"]["annex/title/T001/example-catalogue-licence.txt"]["sha256"].startswith("bf31c1a3")
        assert manifest["files"]["annex/identity/example-business-licence.txt"]["sha256"].startswith("7677f272")


def test_auto_confirmed_detections_need_a_named_legal_user(store, seed, home):
    with store.session() as s:
        det = seed.detection(s, score=97.0)
        case = review.confirm(s, det.id, actor="auto-confirm")
        n = letters.draft(s, platform="fixture", lang="en", actor="daemon")
        text = letters.plain_text(n.content)
        assert "confirmed automatically under the auto-confirm policy" in text   # named as such, not as a person
        assert "auto-confirm," not in text
        for program in ("auto-confirm", "daemon", ""):
            with pytest.raises(MissingDetails, match="named legal user"):
                letters.approve(s, n.id, actor=program)
        _conf(home, legal_users=["lee"])
        with pytest.raises(MissingDetails, match="not one of the legal users"):
            letters.approve(s, n.id, actor="ann")
        letters.approve(s, n.id, actor="lee")
        assert n.approved_by == "lee" and n.events[-1].details["auto_confirmed_detections"] == [det.id]
        letters.mark_sent(s, n.id, actor="lee", channel="email", recipient="x", sent_at=T0)
        assert case.state == "notice_sent"
