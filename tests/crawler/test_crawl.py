"""End to end with real Chromium (Debian's, via scrapy-playwright), yt-dlp, ffmpeg and the matcher,
against the fixture platform. Slow: each crawl is a child process with a browser."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

pytestmark = pytest.mark.slow


def _clips(store):
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        return {c.media_id: (c, [(d.work_id, d.review_state) for d in c.detections])
                for c in s.scalars(select(Clip))}


def test_crawl_renders_fetches_and_matches(catalog_store, proxy, platform):
    from crawler.models import FrontierEntry
    from crawler.run import crawl_site
    store = catalog_store
    truth = platform.truth["videos"]

    plain = crawl_site("fixture", query="", render_js=False, timeout_s=120)
    assert plain.ok, plain
    assert plain.counts.get("listed", 0) == 0 and plain.counts.get("fetched", 0) == 0
    assert plain.frontier == {}

    from earwitness.app.matching import match_stored_clip
    report = crawl_site("fixture", query="", timeout_s=300, on_clip_stored=match_stored_clip)
    assert report.ok, report
    assert report.counts["listed"] == len(truth)
    assert report.counts["gone"] == 1 and report.counts["licensed"] == 1
    clips = _clips(store)
    with store.session() as s:
        states = {r.media_id: (r.state, r.reason) for r in s.scalars(select(FrontierEntry))}
    problems = []
    for v in truth:
        clip, dets = clips.get(v["id"], (None, []))
        pending = sorted(w for w, st in dets if st == "pending")
        if v["expect"] == "gone":
            if states[v["id"]] != ("gone", "http_410") or clip is not None:
                problems.append((v["id"], "expected gone", states[v["id"]]))
            continue
        if clip is None or not clip.screenshot_path or not clip.html_path:
            problems.append((v["id"], "no clip/evidence"))
            continue
        if v["expect"] == "detect" and pending != [v["track_id"]]:
            problems.append((v["id"], v["disguise"], "expected", v["track_id"], "got", pending))
        if v["expect"] == "licensed" and (not clip.licensed or pending):
            problems.append((v["id"], "licensed but", clip.licensed, pending))
        if v["expect"] == "no_match" and pending:
            problems.append((v["id"], "non-catalog matched", pending))
    assert not problems, problems
    one = next(c for c, _ in clips.values())
    assert one.screenshot_sha256 and one.html_sha256 and one.uploader_id and one.published_at and one.view_count
    # the page capture: a stamped picture, the page's WARC, the downloaded original (crawler.page_capture)
    assert one.warc_sha256 and one.original_sha256 and one.extra["page_capture"]["url"] == one.url
    assert one.extra["page_capture"]["exchanges"] >= 1 and "refused" not in one.extra["page_capture"]


def test_sigkill_mid_crawl_loses_nothing_fetches_nothing_twice(site_home, store, proxy, platform):
    from crawler import frontier
    from crawler.run import crawl_site
    cmd = [sys.executable, "-m", "crawler.run", "--site", "fixture", "--query", ""]
    child = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and frontier.counts(store, "fixture").get("fetched", 0) < 6:
            time.sleep(0.2)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    before = frontier.counts(store, "fixture")
    from crawler.models import FrontierEntry
    with store.session() as s:
        stored_before = {r.media_id for r in s.scalars(select(FrontierEntry).where(FrontierEntry.state == "fetched"))}
    assert 6 <= before.get("fetched", 0) < len(platform.truth["videos"]) - 1, before
    report = crawl_site("fixture", query="", timeout_s=300)
    assert report.ok, report
    assert report.frontier == {"fetched": 19, "gone": 1}, (report.frontier, report.errors)
    assert report.counts["fetched"] == 19 - before["fetched"]   # only what the first run had not stored
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        per_item = dict(s.execute(select(Clip.media_id, func.count()).group_by(Clip.media_id)).all())
    assert len(per_item) == 19 and set(per_item.values()) == {1}
    gets, resumed = proxy.media_gets(), proxy.media_gets(resumed=True)
    video_of = lambda path: path.rsplit("/", 1)[-1].split(".")[0]  # noqa: E731  /shorts/media/<id>.<ext>
    # what the first run had stored is never fetched again
    assert all(n == 1 for p, n in gets.items() if video_of(p) in stored_before), gets
    assert not any(video_of(p) in stored_before for p in resumed), resumed
    # a download the kill cut is resumed from its partial file (Range), or restarted when
    # nothing of it had reached the disk: only the few in flight (fetch_workers), never more
    again = [p for p, n in gets.items() if n > 1]
    assert max(gets.values()) <= 2 and len(again) + len(resumed) <= 4, (gets, resumed)


def test_live_window_is_captured_matched_and_evidence_recorded(catalog_store, proxy, platform):
    import json
    import urllib.request
    from datetime import timedelta

    from crawler.live import sample_rooms
    from earwitness.app.matching import match_stored_clip
    from earwitness.kernel.store.models import Clip
    room, other = f"{proxy.url}/live/room/room101", f"{proxy.url}/live/room/room202"
    prog = json.load(urllib.request.urlopen(f"{proxy.url}/live/api/rooms/room101/programme"))
    urllib.request.urlopen(f"{proxy.url}/live/api/rooms/room202/programme").read()
    # start the window a little before demo003 (programme 8..32 s) comes round
    pos = (time.time() - prog["loop_start_epoch"]) % prog["loop_duration_s"]
    time.sleep((6.0 - pos) % prog["loop_duration_s"])
    rep = sample_rooms(match_stored_clip, [room, other], window_s=16, evidence_s=6)
    assert rep.windows == 2 and not rep.errors, rep
    assert rep.matched_windows == 1 and set(rep.work_ids) <= {"demo003", "demo008"} and rep.work_ids, rep
    assert rep.evidence_recordings == 1
    with catalog_store.session() as s:
        clips = list(s.scalars(select(Clip)))
        window = next(c for c in clips if c.media_id.startswith("room101@") and c.status == "matched")
        assert window.is_live and window.live_window_start < window.live_window_end
        assert 14 < window.duration_s < 17 and window.screenshot_sha256
        assert [d.work_id for d in window.detections] == rep.work_ids
        evidence = s.get(Clip, window.extra["evidence_clip_id"])
        assert evidence.status == "evidence" and evidence.extra["evidence_for"] == window.id
        # cut from the room's buffer: the matched span, with context before it and 6 s after it
        assert evidence.live_window_start < window.live_window_start + timedelta(seconds=1)
        assert evidence.live_window_end > window.live_window_end and evidence.duration_s > window.duration_s
        quiet = next(c for c in clips if c.media_id.startswith("room202@"))
        assert quiet.detections == []


def test_timeout_stops_the_child_and_the_next_crawl_resumes(site_home, store, proxy):
    from crawler.run import crawl_site
    cut = crawl_site("fixture", query="", timeout_s=8)
    assert cut.timed_out and not cut.ok
    assert cut.frontier.get("fetched", 0) < 19, cut.frontier
    rest = crawl_site("fixture", query="", timeout_s=300)
    assert rest.ok and rest.frontier == {"fetched": 19, "gone": 1}, (rest.frontier, rest.errors)
    assert rest.counts.get("fetched", 0) == 19 - cut.frontier.get("fetched", 0)
