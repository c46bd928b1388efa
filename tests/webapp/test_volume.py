"""Review for volume over HTTP on 127.0.0.1: strict query values, search, sort, grouping, claims,
fixed rejection reasons, undo/reopen with audit entries, bulk actions, reviewer counts, pagination."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from earwitness.kernel.store.case_models import Case, FalsePositive
from earwitness.kernel.store.models import Detection
from tests.webapp.conftest import add_detections


def _ids(page: str) -> list[str]:
    return re.findall(r'data-id="([0-9a-z]{26})"', page)


@pytest.mark.parametrize("query", [
    "/review/?page=9223372036854775807", "/review/?until=9999-12-31", "/review/?since=0001-01-01",
    "/review/?page=0", "/review/?page=-1", "/review/?page=abc", "/review/?min_score=nan", "/review/?max_score=inf",
    "/review/?min_score=1e400", "/review/?state=bogus", "/review/?sort=evil", "/review/?group=nope",
    "/review/?unclaimed=2", "/review/?q=" + "x" * 300, "/cases/?page=9223372036854775807", "/cases/?state=nope",
    "/cases/?overdue=yes", "/notices/?page=0", "/users/audit?page=99999999999999",
])
def test_odd_query_values_answer_400_with_a_message(client, seeded, users, query):
    client.login("ada", users["ada"])
    r = client.get(query)
    assert r.status == 400, (query, r.status)
    assert "Bad query" in r.text and "Traceback" not in r.text


def test_unknown_letter_export_creates_nothing(client, seeded, users, home):
    client.login("lee", users["lee"])
    token = client.csrf("/notices/")
    r = client.post("/notices/01aaaaaaaaaaaaaaaaaaaaaaaa/export/pdf", {"csrf_token": token})
    assert r.status == 404 and "no notice" in r.text
    assert not (home / "webapp" / "cache" / "notices" / "01aaaaaaaaaaaaaaaaaaaaaaaa").exists()


def test_search_sort_and_grouping(client, seeded, users, store):
    ids = add_detections(store, 12)
    client.login("ann", users["ann"])
    assert _ids(client.get("/review/?q=bulk+clip+00007").text) == [ids[7]]
    assert _ids(client.get("/review/?q=remix_king").text) == [seeded.shifted]       # uploader
    assert _ids(client.get("/review/?q=fixture/video/v1").text) == [seeded.plain]   # URL
    assert _ids(client.get("/review/?q=x9").text) == [seeded.other]                 # media id
    assert _ids(client.get("/review/?q=100%25").text) == []                          # % is literal
    with store.session() as s:
        dets = [s.get(Detection, i) for i in ids]
        by_score = [d.id for d in sorted(dets, key=lambda d: (-d.score, d.id))]
        by_views = [d.id for d in sorted(dets, key=lambda d: (-d.clip.view_count, d.id))]
    assert _ids(client.get("/review/?platform=bulkplat&sort=score").text) == by_score
    assert _ids(client.get("/review/?platform=bulkplat&sort=views").text) == by_views
    # prev/next on the review page follow the chosen order
    page = client.get(f"/review/{by_score[1]}?platform=bulkplat&sort=score").text
    assert f'id="prev" href="/review/{by_score[0]}?' in page and f'id="next" href="/review/{by_score[2]}?' in page
    grouped = client.get("/review/?platform=bulkplat&group=uploader").text
    assert re.findall(r'data-key="([^"]+)"', grouped) == ["up_a", "up_b", "up_c"]
    assert _ids(client.get("/review/?uploader=up_b").text) == ids[1::3]
    # the review page links to the same uploader's and the same audio's detections (bulk scopes)
    page = client.get(f"/review/{ids[4]}").text
    audio = re.search(r'id="same-audio" href="/review/\?audio=([0-9a-f]{64})', page).group(1)
    assert _ids(client.get(f"/review/?audio={audio}&state=all").text) == [ids[4]]


def test_claims_keep_two_analysts_apart(client, new_client, seeded, users, store):
    from webapp import auth
    with store.session() as s:
        auth.create_user(s, "bea", role="analyst", password="walnut-harbor-92")
    client.login("ann", users["ann"])
    assert "reserved for you" in client.get(f"/review/{seeded.plain}").text
    bea = new_client()
    bea.login("bea", "walnut-harbor-92")
    page = bea.get(f"/review/{seeded.plain}").text
    assert "ann is reviewing this" in page
    assert seeded.plain not in _ids(bea.get("/review/?unclaimed=1").text)
    token = bea.csrf("/review/")
    r = bea.post(f"/review/{seeded.plain}/confirm", {"csrf_token": token})
    assert "ann is reviewing this detection" in bea.get(r.headers["Location"]).text
    with store.session() as s:
        assert s.get(Detection, seeded.plain).review_state == "pending"
    r = bea.post(f"/review/{seeded.plain}/confirm", {"csrf_token": token, "take_over": "1"})
    with store.session() as s:
        assert s.get(Detection, seeded.plain).reviewed_by == "bea"


def test_reject_then_undo_lifts_the_false_positive_and_is_audited(client, seeded, users, store, new_client):
    client.login("ann", users["ann"])
    token = client.csrf(f"/review/{seeded.other}")
    r = client.post(f"/review/{seeded.other}/reject", {"csrf_token": token, "reason_code": "voice_over"})
    after = client.get(r.headers["Location"]).text
    assert 'id="undo-form"' in after                      # the next page offers the undo
    with store.session() as s:
        assert s.scalar(select(FalsePositive.reason)) == "voice_over"
    r = client.post(f"/review/{seeded.other}/reopen", {"csrf_token": token, "reason": "misclick"})
    assert "it is pending again" in client.get(r.headers["Location"]).text
    with store.session() as s:
        det = s.get(Detection, seeded.other)
        assert det.review_state == "pending" and "misclick" in det.review_reason
        assert s.scalar(select(FalsePositive)) is None
    admin = new_client()
    admin.login("ada", users["ada"])
    log = admin.get("/users/audit?action=detection_reopened").text
    assert seeded.other in log and "was rejected: misclick" in log and ">ann<" in log


def test_confirm_then_undo_withdraws_the_lone_case(client, seeded, users, store):
    client.login("ann", users["ann"])
    token = client.csrf(f"/review/{seeded.plain}")
    client.post(f"/review/{seeded.plain}/confirm", {"csrf_token": token})
    with store.session() as s:
        case_id = s.scalar(select(Case.id))
    client.post(f"/review/{seeded.plain}/reopen", {"csrf_token": token, "reason": "wrong song"})
    with store.session() as s:
        assert s.get(Detection, seeded.plain).review_state == "pending"
        case = s.get(Case, case_id)
        assert case.state == "closed" and case.detections == []
        assert any("reopened" in (e.reason or "") for e in case.events)


def test_bulk_confirm_and_undo_by_filter_and_counts(client, seeded, users, store):
    ids = add_detections(store, 30)
    client.login("ann", users["ann"])
    token = client.csrf("/review/")
    # everything the filters select: one uploader's detections above a score
    r = client.post("/review/bulk", {"csrf_token": token, "action": "confirm", "scope": "filter",
                                     "q_platform": "bulkplat", "q_uploader": "up_a", "q_min_score": "11"})
    assert r.status == 200
    done = re.findall(r'<tr data-id="([0-9a-z]{26})"', r.text)
    assert sorted(done) == sorted(ids[0::3]) and "10 done" in r.text
    with store.session() as s:
        assert {s.get(Detection, i).review_state for i in ids[0::3]} == {"confirmed"}
        assert {s.get(Detection, i).review_state for i in ids[1::3]} == {"pending"}
    # a bulk rejection needs a fixed reason
    r = client.post("/review/bulk", {"csrf_token": token, "action": "reject", "ids": ids[1:3]})
    assert r.status == 302
    with store.session() as s:
        assert s.get(Detection, ids[1]).review_state == "pending"
    r = client.post("/review/bulk", {"csrf_token": token, "action": "reject", "reason_code": "licensed",
                                     "ids": [ids[1], ids[2]]})
    assert "2 done" in r.text
    stats = client.get("/review/stats").text
    assert re.search(r'data-reviewer="ann">.*?<td class="n">10</td><td class="n">2</td>', stats, re.S)
    assert re.search(r'data-reason="licensed"><td>licensed use</td><td class="n">2</td>', stats)
    # undo the whole bulk confirm from its result page
    undo = re.findall(r'name="ids" value="([0-9a-z]{26})"', client.post(
        "/review/bulk", {"csrf_token": token, "action": "reopen", "ids": ids[0::3], "reason": "undo"}).text)
    with store.session() as s:
        assert {s.get(Detection, i).review_state for i in ids[0::3]} == {"pending"}
    assert undo == []       # no undo of an undo


def test_lists_paginate(client, seeded, users, store, app):
    app.config["EW"]["page_size"] = 5
    add_detections(store, 12)
    client.login("ann", users["ann"])
    first = _ids(client.get("/review/?platform=bulkplat").text)
    third = client.get("/review/?platform=bulkplat&page=3").text
    assert len(first) == 5 and len(_ids(third)) == 2 and "page 3 of 3" in third
    with store.session() as s:
        from notices import review
        for det_id in first + _ids(third)[:1]:      # six cases: two pages of five
            review.confirm(s, det_id, actor="ann")
    cases = client.get("/cases/?page=2").text
    assert "page 2 of 2" in cases and len(re.findall(r'<tr data-id=', cases)) == 1
    assert len(re.findall(r'<tr data-id=', client.get("/cases/?q=bulk+clip+00000").text)) == 1
