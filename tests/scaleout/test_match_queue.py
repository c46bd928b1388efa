"""Matcher workers on a real queue (Dramatiq over a redis-server started here): a job is safe to run twice."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from earwitness.app import match_queue, matching
from earwitness.kernel.store import leases
from earwitness.kernel.store.models import Clip, Detection, utcnow


def _detections(store, clip_id: str) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(Detection.work_id).where(Detection.clip_id == clip_id)))


def test_a_redelivered_job_never_creates_a_second_detection(store, small_catalog):
    clip_id = small_catalog(1, "copy")
    assert match_queue.match_job(store, clip_id) == "matched"
    assert _detections(store, clip_id) == [small_catalog.songs[1].track_id]
    # the worker died after its commit, before the broker heard the ack: the job comes again
    assert match_queue.match_job(store, clip_id) == "done"
    assert _detections(store, clip_id) == [small_catalog.songs[1].track_id]
    with store.session() as s:
        assert leases.held(s, matching.MATCH_QUEUE) == {}


def test_a_clip_held_by_a_live_worker_is_left_to_it_and_taken_when_its_lease_ends(store, small_catalog):
    clip_id = small_catalog(2, "held")
    with store.session() as s:
        assert leases.take(s, matching.MATCH_QUEUE, clip_id, lease_s=600, owner="other-worker")
    assert match_queue.match_job(store, clip_id) == "held"
    assert _detections(store, clip_id) == []
    with store.session() as s:  # the other worker died: its lease runs out
        s.execute(leases.WorkLease.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert match_queue.match_job(store, clip_id) == "matched"
    assert _detections(store, clip_id) == [small_catalog.songs[2].track_id]


def test_jobs_sent_through_redis_are_matched_once_by_a_worker(store, small_catalog, broker_url):
    clips = [small_catalog(i, f"q{i}") for i in range(3)]
    for clip_id in clips:
        assert match_queue.enqueue_clip(store, clip_id) == []
    match_queue.enqueue_clip(store, clips[0])     # the same clip twice (a crawl retried its enqueue)
    stop = threading.Event()
    worker = threading.Thread(target=match_queue.serve, kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with store.session() as s:
                if not s.scalar(select(func.count()).select_from(Clip).where(Clip.status == "fetched")):
                    break
            time.sleep(0.2)
        import redis
        r = redis.Redis.from_url(broker_url)
        while time.monotonic() < deadline and r.llen("dramatiq:match") + r.hlen("dramatiq:match.msgs") > 0:
            time.sleep(0.2)   # the duplicate job too has been consumed and acknowledged
        assert r.zcard("dramatiq:match.XQ") == 0   # nothing dead-lettered
    finally:
        stop.set()
        worker.join(30)
    for i, clip_id in enumerate(clips):
        assert _detections(store, clip_id) == [small_catalog.songs[i].track_id]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Detection)) == 3
        assert set(s.scalars(select(Clip.status))) == {"matched"}
