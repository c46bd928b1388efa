"""The daemon with the real jobs: a crawl of the fixture platform (Chromium, yt-dlp, ffmpeg in a
child process) and matching, each SIGKILLed mid-way and restarted. Slow."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from click.testing import CliRunner

from daemon_helpers import write_config
from earwitness.app.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform():
    from fixtures.build import build
    from fixtures.platform import serve
    root = build(Path(os.environ.get("EARWITNESS_TEST_PLATFORM",
                                     Path(tempfile.gettempdir()) / "earwitness-test-fixture-platform")))
    server = serve(port=0, root=root, build=False)
    yield server
    server.close()


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def kill_tree(daemon) -> None:
    """SIGKILL the daemon and everything it started (a crash of the whole machine's worth)."""
    for child in children(daemon.proc.pid):
        try:
            os.killpg(child, signal.SIGKILL)     # the crawl child leads its own process group
        except ProcessLookupError:
            pass
    daemon.stop(signal.SIGKILL)


def runs(store, job_id):
    from earwitness.app.daemon_models import JobRun
    with store.session() as s:
        return s.scalars(select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.started_at)).all()


def wait(cond, timeout_s, what):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_during_crawl_and_during_matching(home, store, daemons, platform, monkeypatch):
    from crawler import frontier
    from earwitness.app.catalog import import_manifest
    from earwitness.kernel.store.models import Clip, Detection
    import scheduler

    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL", platform.url)
    import_manifest(store, platform.root / "catalog" / "manifest.csv")
    # the crawl alone (no matcher handed in): clips wait for the match job
    crawl = {"func": "crawler.run:crawl_site", "per_site": True, "sites_from": None,   # the fixture site only
             "args": ["{site}"], "kwargs": {"query": "", "timeout_s": 400},
             "trigger": {"interval": {"minutes": 60}}, "order": 10}
    match = {"func": "earwitness.app.matching:match_backlog", "store": True,
             "trigger": {"interval": {"seconds": 2}}, "order": 30}
    write_config(home, {"crawl": crawl}, sites={"fixture": {}})
    truth = platform.truth["videos"]

    # 1. SIGKILL mid-crawl, restart: the interrupted crawl runs again and fetches only the rest
    d = daemons(home)
    wait(lambda: frontier.counts(store, "fixture").get("fetched", 0) >= 5, 180, "a few fetched items")
    kill_tree(d)
    fetched_before = frontier.counts(store, "fixture")["fetched"]
    assert fetched_before < len(truth) - 1
    schedule = scheduler.stored_schedule(store)
    d = daemons(home)
    wait(lambda: runs(store, "crawl:fixture")[-1].status == "ok", 400, "the resumed crawl")
    d.stop()
    crawl_runs = runs(store, "crawl:fixture")
    assert [r.status for r in crawl_runs] == ["interrupted", "ok"]
    assert crawl_runs[-1].result["counts"]["fetched"] == len(truth) - 1 - fetched_before
    assert frontier.counts(store, "fixture") == {"fetched": len(truth) - 1, "gone": 1}

    # 2. matching added; SIGKILL while it runs, restart: the rest is matched, nothing twice
    write_config(home, {"crawl": crawl, "match": match}, sites={"fixture": {}})
    d = daemons(home)

    def matching_midway():
        r = runs(store, "match")
        with store.session() as s:
            done = s.scalar(select(func.count()).select_from(Clip).where(Clip.status != "fetched"))
        return r and r[-1].status == "running" and done >= 2
    wait(matching_midway, 120, "matching under way")
    kill_tree(d)
    with store.session() as s:
        matched_before = s.scalar(select(func.count()).select_from(Clip).where(Clip.status != "fetched"))
    assert 2 <= matched_before < len(truth) - 1
    d = daemons(home)
    d.wait_output("daemon: running")

    def backlog_empty():
        with store.session() as s:
            return not s.scalar(select(func.count()).select_from(Clip).where(Clip.status == "fetched"))
    wait(backlog_empty, 120, "the backlog")
    time.sleep(0.5)
    assert d.stop() == 0
    match_runs = runs(store, "match")
    assert match_runs[0].status == "interrupted"
    assert sum(r.result["matched"] + r.result["failed"] for r in match_runs if r.status == "ok") \
        == len(truth) - 1 - matched_before                   # each clip matched exactly once
    # schedules intact: same jobs and triggers, the hourly crawl not moved by the restarts
    after = scheduler.stored_schedule(store)
    assert after["crawl:fixture"]["trigger"] == schedule["crawl:fixture"]["trigger"]
    assert after["crawl:fixture"]["next_run"] >= schedule["crawl:fixture"]["next_run"]
    assert set(after) == {"crawl:fixture", "match"}
    with store.session() as s:
        per_item = dict(s.execute(select(Clip.media_id, func.count()).group_by(Clip.media_id)).all())
        dets = s.execute(select(Clip.media_id, Detection.work_id).join(Detection)).all()
    assert len(per_item) == len(truth) - 1 and set(per_item.values()) == {1}
    found = {}
    for media_id, work_id in dets:
        found.setdefault(media_id, []).append(work_id)
    for v in truth:
        if v["expect"] == "detect":
            assert found.get(v["id"]) == [v["track_id"]], (v, found.get(v["id"]))
        if v["expect"] == "no_match":
            assert not found.get(v["id"]), v
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    assert {j["job"]: j["last_status"] for j in st["jobs"]} == {"crawl:fixture": "ok", "match": "ok"}
    assert "fetched" not in st["backlog"]["clips"]


def test_sigterm_ends_the_daemon_within_seconds_mid_crawl_and_the_crawl_resumes(home, store, daemons, platform,
                                                                                 monkeypatch):
    """Issue 16, failure 7: SIGTERM does not wait for a whole crawl; the cut crawl resumes at the next start."""
    from crawler import frontier
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL", platform.url)
    write_config(home, {"crawl": {
        "func": "earwitness.app.stage_jobs:crawl", "per_site": True,
        "args": ["{site}"], "kwargs": {"query": "", "timeout_s": 400},
        "trigger": {"interval": {"minutes": 60}}}}, sites={"fixture": {}})
    d = daemons(home)
    wait(lambda: frontier.counts(store, "fixture").get("fetched", 0) >= 3, 180, "a few fetched items")
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM, timeout_s=60) == 0
    assert time.monotonic() - t0 < 30                       # seconds, not the rest of the crawl
    assert "daemon: stopped" in d.output()
    runs_now = runs(store, "crawl:fixture")
    if runs_now[-1].status != "ok":                          # the crawl did not happen to end in the grace
        assert runs_now[-1].status == "interrupted" and "stopped" in runs_now[-1].error
        d2 = daemons(home)                                   # resumes at once, to the end
        want = {"fetched": len(platform.truth["videos"]) - 1, "gone": 1}
        wait(lambda: frontier.counts(store, "fixture") == want, 400, "the crawl resumed to its end")
        wait(lambda: runs(store, "crawl:fixture")[-1].status == "ok", 60, "the resumed crawl recorded ok")
        assert d2.stop(signal.SIGTERM, timeout_s=60) == 0
    assert frontier.counts(store, "fixture") == {"fetched": len(platform.truth["videos"]) - 1, "gone": 1}
