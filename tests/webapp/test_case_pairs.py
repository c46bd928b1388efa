"""The case page quotes each detection as the matched pair a letter quotes (issue 17, "Positions a letter
can quote"): "clip t1–t2 s ↔ work u1–u2 s" with pitch and tempo, the matcher's own relation."""

from __future__ import annotations

import re

import pytest

from matchers.match import pair_from_transform

pytest.importorskip("notices.review")


def test_case_page_shows_the_matched_pair(client, seeded, users, store):
    client.login("ann", users["ann"])
    token = client.csrf(f"/review/{seeded.shifted}")
    r = client.post(f"/review/{seeded.shifted}/confirm", {"csrf_token": token, "reason": "same melody"})
    assert r.status == 302
    page = client.get(f"/review/{seeded.shifted}?state=all").text
    case_id = re.search(r'id="case-link" href="/cases/([0-9a-z]+)"', page).group(1)
    case = client.get(f"/cases/{case_id}").text
    # clip 0-7.5 s, 6 % faster, the clip's start at 8 s of the work
    p = pair_from_transform(0.0, 7.5, 8.0, 1.06)
    assert f"clip {p.clip_start_s:.2f}–{p.clip_end_s:.2f} s ↔ work {p.work_start_s:.2f}–{p.work_end_s:.2f} s" in case
    assert "clip 0.00–7.50 s ↔ work 8.00–15.95 s" in case
    assert "pitch +1.01 semitones · tempo ×1.060" in case
