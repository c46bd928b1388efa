"""The pages over HTTP on 127.0.0.1: queue filters, the review page, decisions, cases, overview."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from earwitness.kernel.store.models import Detection


def _ids(page: str) -> list[str]:
    return re.findall(r'data-id="([0-9a-z]{26})"', page)


def test_queue_filters_by_platform_work_score_and_date(client, seeded, users):
    client.login("ann", users["ann"])
    everything = _ids(client.get("/review/").text)
    assert everything == [seeded.other, seeded.plain, seeded.shifted]          # oldest first
    assert _ids(client.get("/review/?platform=fixture").text) == [seeded.plain, seeded.shifted]
    assert _ids(client.get("/review/?work=demo043").text) == [seeded.other]
    assert _ids(client.get("/review/?min_score=0.8").text) == [seeded.plain]
    assert _ids(client.get("/review/?min_score=0.5&max_score=0.8").text) == [seeded.shifted]
    utc_today = datetime.now(timezone.utc).date()
    today = utc_today.isoformat()
    assert _ids(client.get(f"/review/?since={today}").text) == [seeded.plain, seeded.shifted]
    two_days_ago = (utc_today - timedelta(days=2)).isoformat()
    assert _ids(client.get(f"/review/?until={two_days_ago}").text) == [seeded.other]
    bad = client.get("/review/?min_score=high&since=yesterday")
    assert bad.status == 400 and "is not a number" in bad.text and "is not a date" in bad.text


def test_review_page_shows_players_plot_screenshot_and_neighbours(client, seeded, users):
    client.login("ann", users["ann"])
    page = client.get(f"/review/{seeded.plain}?platform=fixture").text
    for kind in ("clip", "ref-transformed", "ref"):
        assert f"/media/detection/{seeded.plain}/{kind}.wav" in page
    assert f"/media/detection/{seeded.plain}/alignment.png" in page
    assert "dancer_01" in page and "hash verified" in page and "0.910" in page
    assert f'id="next" href="/review/{seeded.shifted}?' in page and 'id="prev"' not in page
    wav = client.get(f"/media/detection/{seeded.plain}/ref-transformed.wav")
    assert wav.status == 200 and wav.body[:4] == b"RIFF" and wav.headers["Content-Type"] == "audio/wav"
    png = client.get(f"/media/detection/{seeded.plain}/alignment.png")
    assert png.status == 200 and png.body[:8] == b"\x89PNG\r\n\x1a\n"
    shot = client.get(f"/media/clip/{seeded.clip_ids['v1']}/screenshot")
    assert shot.status == 200 and shot.body[:4] == b"\x89PNG"


def test_changed_screenshot_and_missing_audio_are_reported(client, seeded, users, home):
    client.login("ann", users["ann"])
    (home / "media" / "fixture" / "v1.png").write_bytes(b"\x89PNG tampered")
    assert "file changed since capture" in client.get(f"/review/{seeded.plain}").text
    (home / "catalog" / "demo042.wav").unlink()
    r = client.get(f"/media/detection/{seeded.plain}/ref.wav")
    assert r.status == 422 and "reference audio not found" in r.text


notices_review = pytest.importorskip("notices.review")


def test_confirm_opens_a_case_and_moves_to_the_next_detection(client, seeded, users, store):
    client.login("ann", users["ann"])
    token = client.csrf(f"/review/{seeded.plain}")
    r = client.post(f"/review/{seeded.plain}/confirm",
                    {"csrf_token": token, "reason": "same melody", "q_platform": "fixture"})
    assert r.status == 302 and r.headers["Location"].startswith(f"/review/{seeded.shifted}?")
    with store.session() as s:
        det = s.get(Detection, seeded.plain)
        assert (det.review_state, det.reviewed_by, det.review_reason) == ("confirmed", "ann", "same melody")
    page = client.get(f"/review/{seeded.plain}?state=all").text
    case_id = re.search(r'id="case-link" href="/cases/([0-9a-z]+)"', page).group(1)
    case = client.get(f"/cases/{case_id}").text
    assert "opened" in case and "same melody" in case
    assert seeded.plain not in _ids(client.get("/review/").text)
    assert seeded.plain in _ids(client.get("/review/?state=confirmed").text)


def test_reject_needs_a_reason_and_is_kept(client, seeded, users, store):
    client.login("ann", users["ann"])
    token = client.csrf(f"/review/{seeded.other}")
    r = client.post(f"/review/{seeded.other}/reject", {"csrf_token": token, "reason": "  "})
    assert r.status == 302 and r.headers["Location"].startswith(f"/review/{seeded.other}")
    assert "needs one of the reasons" in client.get(r.headers["Location"]).text
    # "other" needs a note; a made-up code is no reason
    for form in ({"reason_code": "other", "reason": ""}, {"reason_code": "because", "reason": "x"}):
        r = client.post(f"/review/{seeded.other}/reject", {"csrf_token": token, **form})
        assert "needs one of the reasons" in client.get(r.headers["Location"]).text
    r = client.post(f"/review/{seeded.other}/reject", {"csrf_token": token, "reason_code": "different_work",
                                                        "reason": "different song"})
    assert r.status == 302
    from earwitness.kernel.store.case_models import FalsePositive
    with store.session() as s:
        assert s.get(Detection, seeded.other).review_state == "rejected"
        assert s.scalar(select(FalsePositive.reason)) == "different_work: different song"
    # a rejected detection cannot be confirmed afterwards; the page says why
    r = client.post(f"/review/{seeded.other}/confirm", {"csrf_token": token})
    assert "cannot be confirmed" in client.get(r.headers["Location"]).text


def test_case_page_offers_only_allowed_events_to_legal(client, seeded, users, server, store, new_client):
    from notices import lifecycle
    with store.session() as s:
        case = notices_review.confirm(s, seeded.plain, actor="ann")
        case_id = case.id
    client.login("ann", users["ann"])
    as_analyst = client.get(f"/cases/{case_id}").text
    assert 'data-event="withdraw"' not in as_analyst and "does not move cases" in as_analyst
    legal = new_client()
    legal.login("lee", users["lee"])
    page = legal.get(f"/cases/{case_id}").text
    offered = set(re.findall(r'data-event="([a-z_]+)"', page))
    allowed = set(lifecycle.events_from("confirmed"))
    assert offered == allowed - {"draft_notice", "send_notice"}
    token = legal.csrf(f"/cases/{case_id}")
    # an event the state does not allow is refused with the state and event named
    r = legal.post(f"/cases/{case_id}/event/resolve", {"csrf_token": token})
    assert "not allowed in state" in legal.get(r.headers["Location"]).text
    r = legal.post(f"/cases/{case_id}/event/withdraw", {"csrf_token": token, "reason": "licence found"})
    page = legal.get(r.headers["Location"]).text
    assert 'id="case-state">closed<' in page and "licence found" in page
    assert not re.findall(r'data-event="', page)


def test_overview_counts_and_chart(client, seeded, users):
    client.login("ann", users["ann"])
    page = client.get("/").text
    assert re.search(r"<b>3</b><span>pending detections", page)
    assert "<svg" in page and page.count('class="seg-pending"') == 2      # two days with detections
    assert re.search(r"fixture</a></td>\s*<td class=\"n\">2</td>", page)


def test_case_page_shows_evidence_hashes_and_finds_tampering(client, seeded, users, store, home):
    letters = pytest.importorskip("notices.letters")
    with store.session() as s:
        case_id = notices_review.confirm(s, seeded.plain, actor="ann").id
        letters.draft(s, platform="fixture", lang="en", actor="lee")
    client.login("lee", users["lee"])
    page = client.get(f"/cases/{case_id}").text
    assert 'id="ledger-status">ledger verified' in page
    from notices.evidence import bundle_for
    with store.session() as s:
        bundle = bundle_for(s, seeded.plain)
        shot = bundle.files["screenshot.png"]
    assert shot["sha256"] in page
    r = client.get(f"/evidence/{bundle.id}/screenshot.png")
    assert r.status == 200 and r.body[:4] == b"\x89PNG"
    (home / shot["path"]).write_bytes(b"\x89PNG altered after capture")
    page = client.get(f"/cases/{case_id}").text
    assert "problem(s) in this case" in page and "file_altered" in page and shot["path"] in page


def test_scraped_text_cannot_script_the_page(client, seeded, users, store):
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        clip = s.get(Clip, seeded.clip_ids["v1"])
        clip.url = "javascript:alert(1)"
        clip.uploader = "<script>alert(2)</script>"
    client.login("ann", users["ann"])
    r = client.get(f"/review/{seeded.plain}")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert 'href="javascript:' not in r.text and 'href="#"' in r.text
    assert "<script>alert(2)" not in r.text and "&lt;script&gt;alert(2)" in r.text


def test_detection_without_media_or_with_an_odd_transform_still_shows(client, seeded, users, store):
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        s.get(Clip, seeded.clip_ids["v3"]).media_path = None
        s.get(Detection, seeded.shifted).tempo_ratio = 9.0
    client.login("ann", users["ann"])
    r = client.get(f"/media/detection/{seeded.other}/clip.wav")
    assert r.status == 422 and "no media_path" in r.text
    assert client.get(f"/review/{seeded.other}").status == 200
    page = client.get(f"/review/{seeded.shifted}")
    assert page.status == 200 and "tempo ratio 9.0 is outside" in page.text
    assert client.get(f"/media/detection/{seeded.shifted}/ref.wav").status == 422


def test_cache_headers_keep_evidence_out_of_shared_caches(client, seeded, users):
    client.login("ann", users["ann"])
    assert client.get("/review/").headers["Cache-Control"] == "private, no-store"
    wav = client.get(f"/media/detection/{seeded.plain}/clip.wav")
    assert wav.headers["Cache-Control"] == "private, no-cache" and wav.headers.get("ETag")
    again = client.get(f"/media/detection/{seeded.plain}/clip.wav", headers={"If-None-Match": wav.headers["ETag"]})
    assert again.status == 304
