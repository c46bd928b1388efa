"""The daemon as a real process: schedules in the SQL store, clean stops, SIGKILL and restart."""

from __future__ import annotations

import json
import signal
import time

from click.testing import CliRunner
from sqlalchemy import select, text

from daemon_helpers import write_config
from earwitness.app.cli import main
from earwitness.app.daemon_models import JobRun
from earwitness.kernel.store.models import Clip
from jobfuncs import wait_for


def add_backlog(store, n: int) -> None:
    with store.session() as s:
        for i in range(n):
            s.add(Clip(platform="fixture", url=f"http://x/{i}", media_id=str(i)))


def stored_next_runs(store) -> dict[str, float]:
    with store.engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all())


def ticks(home) -> list[str]:
    path = home / "ticks.txt"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_sigterm_stops_at_a_safe_point(home, store, daemons):
    add_backlog(store, 30)
    write_config(home, {"slow": {"func": "jobfuncs:slow_backlog", "store": True, "kwargs": {"delay_s": 0.2},
                                 "trigger": {"interval": {"seconds": 1}}}})
    d = daemons(home)
    wait_for(home / "slow.running")
    time.sleep(0.5)
    assert d.stop(signal.SIGTERM) == 0
    assert "daemon: stopped" in d.output()
    with store.session() as s:
        run = s.scalars(select(JobRun).where(JobRun.job_id == "slow")).one()
        clips = s.scalars(select(Clip)).all()
    assert run.status == "ok" and run.result["stopped"] is True       # it saw the stop and returned
    done = [c for c in clips if c.status == "matched"]
    assert len(done) == run.result["done"] and 0 < len(done) < 30
    assert all(c.extra == {"done": 1} for c in done)
    assert all(c.extra == {} for c in clips if c.status == "fetched")


def test_sigkill_mid_job_then_restart_loses_and_repeats_nothing(home, store, daemons):
    add_backlog(store, 12)
    write_config(home, {
        "slow": {"func": "jobfuncs:slow_backlog", "store": True, "kwargs": {"delay_s": 0.15},
                 "trigger": {"interval": {"seconds": 1}}},
        "hourly": {"func": "jobfuncs:tick", "trigger": {"interval": {"hours": 1}}},
    })
    d = daemons(home)
    wait_for(home / "slow.running")
    time.sleep(0.6)                                   # a few clips done, one in flight
    before = stored_next_runs(store)
    assert set(before) == {"slow", "hourly"}
    d.stop(signal.SIGKILL)
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    assert {j["job"]: j["last_status"] for j in st["jobs"]}["slow"] == "interrupted"
    assert st["backlog"]["clips"]["fetched"] > 0
    (home / "slow.running").unlink(missing_ok=True)   # SIGKILL skipped the job's cleanup

    d2 = daemons(home)
    d2.wait_output("daemon: running")
    after = stored_next_runs(store)
    assert after["hourly"] == before["hourly"]        # the schedule survived, not reset
    end = time.monotonic() + 30
    while time.monotonic() < end:
        with store.session() as s:
            if not s.scalars(select(Clip).where(Clip.status == "fetched")).first():
                break
        time.sleep(0.2)
    assert d2.stop(signal.SIGTERM) == 0
    with store.session() as s:
        clips = s.scalars(select(Clip)).all()
        runs = s.scalars(select(JobRun).where(JobRun.job_id == "slow").order_by(JobRun.started_at)).all()
    assert all(c.status == "matched" and c.extra == {"done": 1} for c in clips)   # once each
    assert runs[0].status == "interrupted" and runs[-1].status == "ok"
    assert not any(r.status == "running" for r in runs)


def test_missed_runs_coalesce_into_one_after_downtime(home, store, daemons):
    # runs fall on a 10 s grid from the first (t0): down from just after t0 to t0+21 misses t0+10
    # and t0+20; the next regular run, t0+30, is ~9 s after the restart, so a second daemon that
    # takes up to ~8 s to start (a loaded machine) still shows only the one catch-up run
    write_config(home, {"tick": {"func": "jobfuncs:tick", "trigger": {"interval": {"seconds": 10}}}})
    d = daemons(home)
    end = time.monotonic() + 20
    while len(ticks(home)) < 1 and time.monotonic() < end:
        time.sleep(0.05)
    assert d.stop(signal.SIGTERM) == 0
    n = len(ticks(home))
    time.sleep(21.0)                                  # two runs missed while down
    d2 = daemons(home)
    d2.wait_output("daemon: running")
    time.sleep(1.0)
    assert len(ticks(home)) == n + 1                  # caught up once, not once per missed run
    d2.stop()


def test_changed_trigger_replaces_the_stored_schedule(home, store, daemons):
    write_config(home, {"t": {"func": "jobfuncs:tick", "trigger": {"interval": {"hours": 1}}},
                        "gone": {"func": "jobfuncs:tick", "trigger": {"interval": {"hours": 1}}}})
    d = daemons(home)
    d.wait_output("daemon: running")
    first = stored_next_runs(store)
    d.stop()
    write_config(home, {"t": {"func": "jobfuncs:tick", "trigger": {"interval": {"hours": 3}}}})
    d2 = daemons(home)
    d2.wait_output("daemon: running")
    second = stored_next_runs(store)
    d2.stop()
    assert set(second) == {"t"} and second["t"] - first["t"] > 7000


def test_one_daemon_per_home_and_status_shows_it(home, store, daemons):
    write_config(home, {"t": {"func": "jobfuncs:tick", "trigger": {"interval": {"hours": 1}}},
                        "m": {"func": "jobfuncs:tick", "trigger": {"cron": {"day": 1}}, "misfire_grace_s": 3600}})
    d = daemons(home)
    d.wait_output("daemon: running")
    second = daemons(home)
    assert second.proc.wait(timeout=30) == 1
    assert f"another daemon (pid {d.proc.pid}) is running" in second.output()
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    assert st["daemon_pid"] == d.proc.pid
    once = CliRunner().invoke(main, ["--home", str(home), "daemon", "--once"])
    assert once.exit_code == 1 and f"another daemon (pid {d.proc.pid})" in once.output
    assert f"daemon: running (pid {d.proc.pid})" in CliRunner().invoke(main, ["--home", str(home), "status"]).output
    import pickle
    with store.engine.connect() as conn:
        state = pickle.loads(conn.execute(text("SELECT job_state FROM apscheduler_jobs WHERE id='m'")).scalar())
    assert state["misfire_grace_time"] == 3600 and state["max_instances"] == 1 and state["coalesce"] is True
    d.stop()
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    assert st["daemon_pid"] is None
