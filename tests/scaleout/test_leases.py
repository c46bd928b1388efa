"""Work handed out with leases, on SQLite and on a real PostgreSQL: one holder at a time, dead workers' items return."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from crawler import frontier
from crawler.models import FrontierEntry
from earwitness.kernel.store import leases
from earwitness.kernel.store.models import Clip, utcnow


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, home):
    """The home's store on SQLite and a fresh PostgreSQL store: every test here runs on both engines."""
    if request.param == "sqlite":
        from earwitness.kernel.store import Store
        st = Store(f"sqlite:///{home}/leases.db")
        yield st
        st.dispose()
    else:
        yield request.getfixturevalue("pg_store")


def _clips(store, n: int) -> list[str]:
    with store.session() as s:
        clips = [Clip(platform="p", url=f"u{i}", media_id=f"m{i}") for i in range(n)]
        s.add_all(clips)
    return sorted(c.id for c in clips)


def _backlog(limit: int):
    return select(Clip.id).where(Clip.status == "fetched").order_by(Clip.id).limit(limit)


def test_a_live_lease_keeps_others_out_and_an_expired_one_is_taken_again(any_store):
    ids = _clips(any_store, 4)
    with any_store.session() as s:
        assert sorted(leases.claim(s, "match", _backlog(3), Clip.id, lease_s=60, owner="A")) == ids[:3]
    with any_store.session() as s:
        # B passes over A's three live leases and gets the fourth item only
        assert leases.claim(s, "match", _backlog(10), Clip.id, lease_s=60, owner="B") == [ids[3]]
        assert not leases.take(s, "match", ids[0], lease_s=60, owner="B")
        assert leases.take(s, "match", ids[0], lease_s=60, owner="A")   # the holder renews
    later = utcnow() + timedelta(seconds=61)
    with any_store.session() as s:  # A died: its leases expired, B takes them again
        assert sorted(leases.claim(s, "match", _backlog(10), Clip.id, lease_s=60, owner="B", now=later)) == ids
    with any_store.session() as s:
        lease = leases.holder(s, "match", ids[0])
        assert (lease.owner, lease.times_taken) == ("B", 2)
        leases.release(s, "match", ids[:2], owner="B")
        assert leases.holder(s, "match", ids[0]) is None
        assert set(leases.held(s, "match", now=later)) == set(ids[2:])


def test_concurrent_claimers_never_share_an_item(any_store):
    """Six threads (each its own connection) claim batches until the backlog is empty: a partition."""
    ids = _clips(any_store, 120)
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine: list[str] = []
        try:
            while True:
                with any_store.session() as s:
                    batch = leases.claim(s, "match", _backlog(4).where(Clip.id.not_in(mine) if mine else True),
                                         Clip.id, lease_s=600, owner=name)
                if not batch:
                    break
                mine.extend(batch)
        except BaseException as exc:  # reported below; a claim must never fail with "database is locked"
            errors.append(exc)
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    claimed = [i for mine in got.values() for i in mine]
    assert sorted(claimed) == sorted(ids)             # every item handed out ...
    assert len(claimed) == len(set(claimed))          # ... to exactly one worker


def test_two_crawl_workers_recording_the_same_listing_fetch_each_item_once(any_store, monkeypatch):
    found = [frontier.Found(f"v{i}", f"http://x/v{i}") for i in range(5)]
    monkeypatch.setattr(leases, "worker_id", lambda: "crawler-1")
    assert [f.media_id for f in frontier.record(any_store, "s", "p", found, lease_s=60)] == [f"v{i}" for i in range(5)]
    monkeypatch.setattr(leases, "worker_id", lambda: "crawler-2")
    # the second worker saw the same listing: the rows exist (no duplicate insert), all are held by crawler-1
    assert frontier.record(any_store, "s", "p", found, lease_s=60) == []
    assert frontier.pending(any_store, "s", lease_s=60) == []
    with any_store.session() as s:
        row = s.scalars(select(FrontierEntry).where(FrontierEntry.media_id == "v0")).one()
        assert not frontier.take(s, row, lease_s=60)
    # crawler-1 finished v0 and failed v1 (released); it dies holding v2..v4
    monkeypatch.setattr(leases, "worker_id", lambda: "crawler-1")
    frontier.mark(any_store, "p", "v0", "fetched")
    frontier.mark(any_store, "p", "v1", "failed", attempts=1)
    monkeypatch.setattr(leases, "worker_id", lambda: "crawler-2")
    assert [f.media_id for f in frontier.pending(any_store, "s", lease_s=60)] == ["v1"]
    with any_store.session() as s:  # crawler-1's leases run out
        s.execute(leases.WorkLease.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert sorted(f.media_id for f in frontier.pending(any_store, "s", lease_s=60)) == ["v1", "v2", "v3", "v4"]
    with any_store.session() as s:
        assert len(s.scalars(select(FrontierEntry)).all()) == 5


def test_workers_take_a_listing_in_batches(any_store, monkeypatch):
    """Each worker claims a batch, so three workers crawling one site share its items instead of one taking all."""
    found = [frontier.Found(f"v{i}", f"http://x/v{i}") for i in range(7)]
    batches = {}
    for worker in ("crawler-1", "crawler-2", "crawler-3"):
        monkeypatch.setattr(leases, "worker_id", lambda w=worker: w)
        batches[worker] = [f.media_id for f in frontier.record(any_store, "s", "p", found, lease_s=60, limit=3)]
    assert batches == {"crawler-1": ["v0", "v1", "v2"], "crawler-2": ["v3", "v4", "v5"], "crawler-3": ["v6"]}
    monkeypatch.setattr(leases, "worker_id", lambda: "crawler-1")
    # crawler-1 asks for more while still holding its batch: nothing else is free
    assert frontier.pending(any_store, "s", lease_s=60, limit=3, exclude=["v0", "v1", "v2"]) == []


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_at_once(any_store):
    """A crawl restarted after a SIGKILL resumes the killed one's items instead of waiting out their leases."""
    import socket
    import subprocess
    import sys
    ids = _clips(any_store, 2)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_owner = f"{socket.gethostname()}:{int(dead.stdout)}:feedbeef"
    with any_store.session() as s:
        assert sorted(leases.claim(s, "match", _backlog(2), Clip.id, lease_s=600, owner=gone_owner)) == ids
    with any_store.session() as s:   # a live owner elsewhere is respected; the dead local one is not
        assert leases.take(s, "match", ids[0], lease_s=600, owner="other-host:1:live")
    with any_store.session() as s:
        assert leases.claim(s, "match", _backlog(2), Clip.id, lease_s=600, owner="B") == [ids[1]]
