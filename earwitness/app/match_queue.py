"""Matching as a worker pool: a stored clip is a job on a Dramatiq queue in Redis.

The crawler is handed :func:`enqueue_clip` instead of "match now" (``workers.match_mode:
queue``); ``earwitness workers match`` processes consume the queue, each keeping the
fingerprint index mapped between jobs (one matcher per process, see
:func:`earwitness.app.matching.get_matcher`).

Delivery is at least once: Dramatiq acknowledges a message only after its job
returned, and a worker that dies (no heartbeat for ``heartbeat_timeout_s``) has its
unacknowledged messages delivered again. A job is therefore safe to run twice:

1. a clip no longer ``fetched`` was matched already: the job does nothing;
2. otherwise the job takes the clip's lease (queue ``match``, shared with the
   daemon's backlog job); if another worker holds it, the job is retried later;
3. the detections, the clip's new status and the lease's release are one
   transaction; ``UNIQUE(clip_id, work_id)`` on detections is the last guard.

Why Dramatiq: acknowledgement after the job and redelivery of a dead worker's
messages are its defaults on Redis (RQ moves a killed job to a failed registry; Celery
needs ``acks_late`` plus ``reject_on_worker_lost`` and a visibility timeout longer
than any job), it runs plain functions in long-lived processes (the mapped index
stays), and it is small.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from earwitness.app import matching
from earwitness.app import sections as _sections  # noqa: F401  (the sections read here are typed)
from earwitness.kernel import settings
from earwitness.kernel.store import Store, leases, open_store
from earwitness.kernel.store.models import Clip

log = logging.getLogger(__name__)
ACTOR_NAME = "match_clip"


class HeldElsewhere(Exception):
    """Another worker holds the clip's lease; the job is retried after ``held_retry_s``."""


def _cfg() -> dict:
    return settings.thaw(settings.get().section("workers"))


def make_broker(url: str | None = None) -> RedisBroker:
    """A Redis broker with the configured dead-worker detection."""
    cfg = _cfg()
    return RedisBroker(url=url or cfg["broker_url"],
                       heartbeat_timeout=int(cfg["heartbeat_timeout_s"] * 1000),
                       maintenance_chance=int(cfg["maintenance_per_million"]))


def declare(broker: RedisBroker) -> dramatiq.Actor:
    """The match actor on ``broker`` (the same declaration in the crawler, which sends, and the workers)."""
    cfg = _cfg()
    backoff_ms = int(cfg["held_retry_s"] * 1000)
    return dramatiq.actor(run_job, broker=broker, actor_name=ACTOR_NAME, queue_name=cfg["queue"],
                          max_retries=int(cfg["max_retries"]), min_backoff=backoff_ms, max_backoff=backoff_ms * 12)


_sender: tuple[int, str, dramatiq.Actor] | None = None


def _sending_actor() -> dramatiq.Actor:
    """This process's actor for sending (rebuilt after a fork or a change of broker URL)."""
    global _sender
    url = _cfg()["broker_url"]
    if _sender is None or _sender[0] != os.getpid() or _sender[1] != url:
        _sender = (os.getpid(), url, declare(make_broker(url)))
    return _sender[2]


def enqueue_clip(store: Store, clip_id: str) -> list[tuple[str, str]]:
    """The crawler's ``on_clip_stored`` in queue mode: one match job; detections come from a worker.

    Returns no detections (none exist yet). If the broker cannot be reached the error
    propagates: the crawl logs it and the clip stays ``fetched`` for the backlog job.
    """
    _sending_actor().send(clip_id)
    return []


def match_job(store: Store, clip_id: str) -> str:
    """Match one clip once, however often its job is delivered; says what happened.

    ``missing`` (no such clip), ``done`` (already matched or failed: a redelivery),
    ``held`` (another worker holds it), ``matched`` or ``failed``.
    """
    with store.session() as s:
        clip = s.get(Clip, clip_id)
        if clip is None:
            return "missing"
        if clip.status != "fetched":
            return "done"
        if not leases.take(s, matching.MATCH_QUEUE, clip_id, lease_s=matching.match_lease_s()):
            return "held"
    outcome = matching.match_claimed_clip(store, clip_id)
    return outcome.state


def run_job(clip_id: str) -> None:
    """The actor's body (in a matcher worker process)."""
    state = match_job(open_store(), clip_id)
    log.info("clip %s: %s", clip_id, state)
    if state == "held":
        raise HeldElsewhere(f"clip {clip_id} is held by another worker")


def serve(url: str | None = None, *, stop: threading.Event | None = None) -> None:
    """Run one matcher worker until SIGTERM/SIGINT (or ``stop``): one job at a time, the index mapped once.

    The matcher is not thread-safe and matching is CPU-bound, so a worker runs one
    thread; scale by running more worker processes (one per core).
    """
    broker = make_broker(url)
    declare(broker)
    open_store()                 # migrated and connected before the first job
    matching.get_matcher()       # the index mapped before the first job, kept between jobs
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker = dramatiq.Worker(broker, queues={_cfg()["queue"]}, worker_threads=1)
    worker.start()
    log.info("matcher worker %s consuming %r from %s", os.getpid(), _cfg()["queue"], url or _cfg()["broker_url"])
    try:
        stop.wait()
    finally:
        worker.stop()            # lets the job in hand finish; unacknowledged messages go back
        broker.close()
