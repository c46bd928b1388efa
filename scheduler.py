"""The daemon: APScheduler 3 runs the configured jobs; this module only wires them.

Jobs, their functions and triggers are data (``config/scheduler.yaml``, read by
:mod:`earwitness.app.jobs`). The job store is APScheduler's ``SQLAlchemyJobStore``
on the SQL store's engine (table ``apscheduler_jobs``), so a restarted daemon
keeps every schedule: a job whose trigger did not change keeps its next run
time; a run missed while the daemon was down runs once (coalescing) if it is
within the misfire grace time. Each job has at most one instance running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import threading
from datetime import datetime, timezone
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from earwitness.app import jobs

log = logging.getLogger("earwitness.daemon")

JOB_TABLE = "apscheduler_jobs"
RUNNER = "earwitness.app.jobs:run_scheduled"
# how long a stopping daemon waits for running jobs to reach their next safe point; a job
# still running then (a crawl child, a job that does not take ``stop``) is recorded as
# interrupted (it runs again at the next start: every job is resumable) and the process ends
STOP_GRACE_S = 10.0


def make_trigger(spec: jobs.JobSpec, tz: str = "UTC"):
    """The APScheduler trigger of a job's ``{interval: {...}}`` or ``{cron: {...}}``."""
    kind, fields = next(iter(spec.trigger.items()))
    try:
        if kind == "interval":
            return IntervalTrigger(timezone=tz, **fields)
        return CronTrigger(timezone=tz, **fields)
    except (TypeError, ValueError) as exc:
        raise jobs.JobConfigError(f"job {spec.id!r}: bad {kind} trigger {dict(fields)}: {exc}") from exc


def build(store, cfg: dict[str, Any] | None = None) -> BackgroundScheduler:
    """A scheduler on the store's job table (not started)."""
    cfg = jobs.section() if cfg is None else cfg
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(int(cfg["workers"]))},
        job_defaults={"coalesce": bool(cfg["coalesce"]), "max_instances": 1,
                      "misfire_grace_time": int(cfg["misfire_grace_s"])},
        timezone=cfg["timezone"])


def reconcile(sched: BackgroundScheduler, specs: list[jobs.JobSpec], tz: str = "UTC", *,
              start_new_now: bool = True) -> dict[str, list[str]]:
    """Make the stored jobs match the configuration; unchanged jobs keep their next run.

    A job new to the store runs at once (``start_new_now``) rather than one
    interval after the first start; a job whose trigger changed follows its new trigger.
    """
    stored = {job.id: job for job in sched.get_jobs()}
    kept, added, removed = [], [], []
    for spec in specs:
        trigger = make_trigger(spec, tz)
        job = stored.pop(spec.id, None)
        extra: dict[str, Any] = {}
        if spec.misfire_grace_s is not None:
            extra["misfire_grace_time"] = spec.misfire_grace_s
        if (job is not None and str(job.trigger) == str(trigger) and job.func_ref == RUNNER
                and list(job.args) == [spec.id]
                and (spec.misfire_grace_s is None or job.misfire_grace_time == spec.misfire_grace_s)):
            kept.append(spec.id)
            continue
        if job is None and start_new_now:
            extra["next_run_time"] = datetime.now(timezone.utc)
        sched.add_job(RUNNER, trigger, args=[spec.id], id=spec.id, name=spec.func,
                      replace_existing=True, **extra)
        added.append(spec.id)
    for job_id in stored:
        sched.remove_job(job_id)
        removed.append(job_id)
    return {"kept": kept, "added": added, "removed": removed}


def _on_event(event) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run at %s (past the misfire grace time)",
                    event.job_id, event.scheduled_run_time)
    elif event.code == EVENT_JOB_ERROR:
        log.error("job %s raised outside its runner: %s", event.job_id, event.exception)


class AlreadyRunning(jobs.JobError):
    """Another daemon holds this data home (two schedulers must not share one job store)."""


LOCK_NAME = "daemon.lock"


def acquire_lock(home) -> Any:
    """Hold ``<home>/daemon.lock`` for the life of the process; raises AlreadyRunning."""
    import fcntl
    path = home / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip() or "?"
        fh.close()
        raise AlreadyRunning(f"another daemon (pid {pid}) is running on {home}") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


@contextlib.contextmanager
def holding_lock(home):
    """The home's lock for the duration of a ``with`` block (``daemon --once``, the demo)."""
    fh = acquire_lock(home)
    try:
        yield
    finally:
        fh.close()


def daemon_pid(home) -> int | None:
    """The pid of the daemon holding this home's lock, or None when none runs."""
    import fcntl
    path = home / LOCK_NAME
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def run_forever(store, *, stop: threading.Event | None = None, install_signals: bool = True) -> None:
    """The foreground daemon: runs until SIGTERM/SIGINT (or ``stop``), then stops cleanly.

    Stopping sets :data:`earwitness.app.jobs.STOP`: jobs that accept ``stop`` finish the
    item in hand and return. A job still running :data:`STOP_GRACE_S` seconds later is
    recorded as ``interrupted`` (its work is resumable; it runs again at the next start)
    and the process ends, so SIGTERM ends the daemon within seconds even mid-crawl (a
    crawl child dies with its parent). A second signal exits at once.
    """
    from earwitness.kernel import settings
    lock = acquire_lock(settings.get().home)  # noqa: F841 - held until the process exits
    cfg = jobs.section()
    specs = jobs.load_jobs()
    tz = cfg["timezone"]
    stop = stop or threading.Event()
    # cut short by a crash (marked now) or by the last stop's grace running out (marked then)
    interrupted = sorted(set(jobs.mark_interrupted(store))
                         | {j for j, run in jobs.last_runs(store).items() if run.get("status") == "interrupted"})
    sched = build(store, cfg)
    sched.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    sched.start(paused=True)
    changes = reconcile(sched, specs, tz, start_new_now=bool(cfg["start_new_jobs_now"]))
    if cfg["rerun_interrupted"]:
        # a job cut short by a crash resumes now (its work is resumable), not at its next slot
        for job_id in interrupted:
            if sched.get_job(job_id) is not None:
                log.info("daemon: job %s was interrupted; running it again now", job_id)
                sched.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
    log.info("daemon: %d jobs (%s kept, %s added, %s removed)", len(specs),
             len(changes["kept"]), len(changes["added"]), len(changes["removed"]))
    if install_signals:
        def handle(signum, _frame):
            if stop.is_set():
                log.warning("daemon: second %s, exiting now", signal.Signals(signum).name)
                os._exit(128 + signum)
            log.info("daemon: %s received, stopping: running jobs have %.0f s to reach a safe point",
                     signal.Signals(signum).name, STOP_GRACE_S)
            jobs.STOP.set()
            stop.set()
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
    sched.resume()
    print(f"daemon: running {len(specs)} jobs; SIGTERM or Ctrl-C stops", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        jobs.STOP.set()
        sched.shutdown(wait=False)
        left = jobs.wait_running(store, STOP_GRACE_S)
        if left:
            cut = jobs.mark_stopped(store, left)
            log.warning("daemon: %s still running after %.0f s; recorded as interrupted",
                        ", ".join(cut), STOP_GRACE_S)
            if install_signals:      # a real daemon process: the jobs' threads end with it
                log.info("daemon: stopped")
                print("daemon: stopped", flush=True)
                logging.shutdown()
                os._exit(0)
        jobs.STOP.clear()
        log.info("daemon: stopped")
        print("daemon: stopped", flush=True)


def chosen_once(specs: list[jobs.JobSpec], *, only: list[str] | None = None, include: list[str] | None = None,
                exclude: list[str] | None = None) -> list[jobs.JobSpec]:
    """The jobs ``--once`` runs, in dependency order (``once: false`` jobs only when named)."""
    chosen = []
    for spec in specs:
        if exclude and spec.id in exclude:
            continue
        family = spec.id.split(":", 1)[0]
        named = lambda names: names and (spec.id in names or family in names)  # noqa: E731
        if only:
            if named(only):
                chosen.append(spec)
        elif spec.once or named(include):
            chosen.append(spec)
    return chosen


def run_once(store, *, only: list[str] | None = None, include: list[str] | None = None,
             exclude: list[str] | None = None, progress=None) -> list[dict[str, Any]]:
    """Every job once, in dependency order (``once: false`` jobs only when named)."""
    chosen = chosen_once(jobs.load_jobs(), only=only, include=include, exclude=exclude)
    results = []
    for spec in chosen:
        if progress:
            progress(spec, None)
        res = jobs.run_job(spec.id, "once", store=store, spec=spec)
        results.append(res)
        if progress:
            progress(spec, res)
    return results


def stored_schedule(store) -> dict[str, dict[str, Any]]:
    """Next run time and trigger of each stored job, read without starting a scheduler."""
    out: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        try:
            rows = conn.execute(text(f"SELECT id, next_run_time, job_state FROM {JOB_TABLE}")).all()
        except Exception:  # noqa: BLE001 - no table yet: nothing scheduled
            return out
    for job_id, next_ts, state in rows:
        try:
            trigger = str(pickle.loads(state)["trigger"])
        except Exception:  # noqa: BLE001 - a state from another APScheduler version
            trigger = "?"
        out[job_id] = {"next_run": (datetime.fromtimestamp(next_ts, timezone.utc) if next_ts else None),
                       "trigger": trigger}
    return out
