"""Three crawl workers and two matcher workers, separate processes, on a real PostgreSQL and a real Redis.

Every process is real: the crawl workers are crawl children (Scrapy, Chromium, yt-dlp,
ffmpeg) against the fixture platform behind a counting proxy; the matcher workers are
``earwitness workers match``; PostgreSQL and redis-server are started by the tests. One
crawl worker and one matcher worker are SIGKILLed mid-work.

The ``s3`` variant puts the workers on "different machines": media and evidence go to an
S3-compatible server (moto_server, started by the tests), and the matcher workers run in
a data home of their own holding only the fingerprint index, so every clip they match
comes to them through the shared blob store.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

pytestmark = pytest.mark.slow

ITEM_TIME_LIMIT_S = 45      # frontier leases last twice this (a loaded machine runs 3 Chromiums here)
MATCH_LEASE_S = 20


@pytest.fixture
def pg_settings(home, pg_url, monkeypatch):
    """This test runs on PostgreSQL whatever EARWITNESS_TEST_STORE says; short leases so the kills heal fast."""
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__STORE_URL", pg_url)
    monkeypatch.setenv("EARWITNESS__CRAWLER__MEDIA__ITEM_TIME_LIMIT_S", str(ITEM_TIME_LIMIT_S))
    monkeypatch.setenv("EARWITNESS__WORKERS__MATCH_LEASE_S", str(MATCH_LEASE_S))
    monkeypatch.setenv("EARWITNESS__WORKERS__MATCH_MODE", "queue")
    settings.configure(home)
    return pg_url


def _start(cmd: list[str], log_path, env: dict | None = None) -> subprocess.Popen:
    log = open(log_path, "wb")
    return subprocess.Popen(cmd, env=env or dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # the worker and its children (Chromium)
    except ProcessLookupError:
        pass
    proc.wait()


def _live_leases(store, queue: str) -> dict[str, str]:
    from earwitness.kernel.store import leases
    with store.session() as s:
        return leases.held(s, queue)


def _owned_by(held: dict[str, str], pid: int) -> list[str]:
    return [item for item, owner in held.items() if owner.split(":")[1] == str(pid)]


def _wait(pred, timeout_s: float, what: str, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


@pytest.mark.parametrize("blobs", ["local", "s3"])
def test_three_crawl_workers_two_matchers_sigkill_loses_nothing_duplicates_nothing(
        pg_settings, broker_url, catalog_store, proxy, platform, tmp_path, home, blobs, request):
    from crawler import frontier
    from crawler.models import FrontierEntry
    from earwitness.kernel.store.models import Clip, Detection
    store = catalog_store
    matcher_env = None
    if blobs == "s3":
        bucket = request.getfixturevalue("s3_settings")
        matcher_home = tmp_path / "matcher-machine"
        matcher_home.mkdir()
        shutil.copytree(home / "index", matcher_home / "index")
        matcher_env = dict(os.environ, EARWITNESS_HOME=str(matcher_home))
    assert store.engine.dialect.name == "postgresql"
    truth = platform.truth["videos"]
    matcher_cmd = [sys.executable, "-c", "import sys; from earwitness.app.cli import main; sys.exit(main())",
                   "workers", "match"]
    crawl_cmd = [sys.executable, "-m", "crawler.run", "--site", "fixture", "--query", "",
                 "--on-clip-stored", "earwitness.app.match_queue:enqueue_clip"]
    matchers = [_start(matcher_cmd, tmp_path / f"matcher{i}.log", matcher_env) for i in range(2)]
    crawlers = [_start(crawl_cmd + ["--report", str(tmp_path / f"crawl{i}.json")], tmp_path / f"crawl{i}.log")
                for i in range(3)]
    killed_items: list[str] = []
    try:
        # SIGKILL crawl worker 0 once the crawl is under way and it holds items
        def crawler0_busy():
            held = _owned_by(_live_leases(store, frontier.LEASE_QUEUE), crawlers[0].pid)
            return held if held and frontier.counts(store, "fixture").get("fetched", 0) >= 3 else None
        held = _wait(crawler0_busy, 300, "crawl worker 0 to hold items mid-crawl")
        _kill(crawlers[0])
        with store.session() as s:
            killed_items = [s.get(FrontierEntry, i).media_id for i in held]
        # SIGKILL matcher worker 0 while it holds a clip (matching it)
        _wait(lambda: _owned_by(_live_leases(store, "match"), matchers[0].pid), 300, "matcher 0 mid-job")
        _kill(matchers[0])
        for proc in crawlers[1:]:
            proc.wait(600)
        # the dead crawl worker's claims run out; its restart (one more crawl round) takes them
        _wait(lambda: not _live_leases(store, frontier.LEASE_QUEUE), 4 * ITEM_TIME_LIMIT_S, "dead worker's leases",
              interval_s=0.5)
        restarted = _start(crawl_cmd + ["--report", str(tmp_path / "crawl3.json")], tmp_path / "crawl3.log")
        crawlers.append(restarted)
        restarted.wait(600)

        def all_matched():
            with store.session() as s:
                return not s.scalar(select(func.count()).select_from(Clip).where(Clip.status == "fetched"))
        _wait(all_matched, 300, "every clip matched by the surviving matcher", interval_s=0.5)
    finally:
        for proc in crawlers:
            _kill(proc)
        for proc in matchers:
            proc.terminate()
        for proc in matchers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                _kill(proc)

    assert killed_items, "crawl worker 0 held nothing when killed"
    with store.session() as s:
        states = dict(s.execute(select(FrontierEntry.media_id, FrontierEntry.state)).all())
        per_item = dict(s.execute(select(Clip.media_id, func.count()).group_by(Clip.media_id)).all())
        clips = {c.media_id: c for c in s.scalars(select(Clip))}
        dets = {c.media_id: sorted((d.work_id, d.review_state) for d in c.detections) for c in clips.values()}
        n_det = s.scalar(select(func.count()).select_from(Detection))
    # nothing lost: every truth item fetched (or found gone), every clip matched
    assert sorted(states.values()).count("fetched") == len(truth) - 1 and list(states.values()).count("gone") == 1
    assert set(per_item.values()) == {1} and len(per_item) == len(truth) - 1       # nothing duplicated
    assert {c.status for c in clips.values()} == {"matched"}
    problems = []
    for v in truth:
        if v["expect"] == "gone":
            continue
        pending = [w for w, st in dets[v["id"]] if st == "pending"]
        if v["expect"] == "detect" and pending != [v["track_id"]]:
            problems.append((v["id"], "expected", v["track_id"], "got", dets[v["id"]]))
        if v["expect"] in ("licensed", "no_match") and pending:
            problems.append((v["id"], v["expect"], "but", dets[v["id"]]))
    assert not problems, problems
    assert n_det == sum(len(d) for d in dets.values())
    # each item's media fetched once; only what the killed worker had in hand may have been fetched again
    gets = proxy.media_gets()
    video_of = lambda path: path.rsplit("/", 1)[-1].split(".")[0]  # noqa: E731  /shorts/media/<id>.<ext>
    twice = {video_of(p) for p, n in gets.items() if n > 1}
    assert twice <= set(killed_items), (twice, killed_items, gets)
    assert max(gets.values()) <= 2, gets
    if blobs == "s3":
        # the media lives only in the bucket; the matchers read every clip from there
        s3 = request.getfixturevalue("s3_server").client()
        keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in page.get("Contents", [])}
        for c in clips.values():
            assert f"earwitness/{c.media_path}" in keys
            assert not (home / c.media_path).exists()
        cached = {p.relative_to(matcher_home / "blob-cache").as_posix()
                  for p in (matcher_home / "blob-cache").rglob("*.wav")}
        assert {c.media_path for c in clips.values()} <= cached
