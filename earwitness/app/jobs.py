"""The daemon's job registry and runner: what runs, in which order, and what became of each run.

Jobs are data (``config/scheduler.yaml``, section ``scheduler``): an id, the
dotted path of the function, its trigger, its place in the dependency order.
:func:`load_jobs` imports every job's function, so a job whose function cannot be
had stops the daemon at start with a message naming the job; a job that fails is
recorded as ``failed`` in the run history (table ``job_runs``) and every other job
goes on.

Run states: ``running`` -> ``ok`` | ``partial`` | ``failed`` | ``interrupted``; a
``running`` row whose process died (SIGKILL, power loss) reads as ``interrupted``.
A job's result decides between them: a result with ``status`` (``ok``, ``partial``,
``failed``) is taken at its word; ``ok: false`` is ``failed``; a result that counts
``failed`` items is ``partial`` (``failed`` when it counts nothing done). Only
``ok`` is success: the others exit the CLI non-zero and show red in ``status``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import logging
import os
import socket
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy import func, select

from earwitness.app import sections as _sections  # noqa: F401  (the sections read here are typed)
from earwitness.kernel import settings
from earwitness.app import env_errors, logs
from earwitness.app.daemon_models import FAILED_STATES, JobRun
from earwitness.kernel.store.models import utcnow

log = logging.getLogger(__name__)

HOST = socket.gethostname()

# set when the daemon is asked to stop; a job function taking ``stop`` receives it
STOP = threading.Event()


class JobError(Exception):
    """Root of the daemon's errors."""


class JobConfigError(JobError):
    """``config/scheduler.yaml`` is malformed."""


@dataclass(frozen=True)
class JobSpec:
    """One job as configured."""

    id: str
    func: str
    trigger: Mapping[str, Any]
    order: int = 100
    once: bool = True
    store: bool = False
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    misfire_grace_s: int | None = None     # this job's own grace time (default: the scheduler's)

    def describe_trigger(self) -> str:
        kind, fields = next(iter(self.trigger.items()))
        return f"{kind} " + ", ".join(f"{k}={v}" for k, v in fields.items())




def section() -> dict[str, Any]:
    return settings.thaw(settings.get().section("scheduler"))


def resolve(path: str) -> Callable[..., Any]:
    """Import ``module:function``; a function that cannot be had is a configuration error, raised
    when the jobs are loaded (the daemon's start), never a job quietly "unavailable" later."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise JobConfigError(f"{path}: cannot import {module_name}: {exc}") from exc
    target = getattr(module, attr, None)
    if target is None:
        raise JobConfigError(f"{path}: {module_name} has no {attr!r}")
    return target


def _check_trigger(job_id: str, trigger: Any) -> dict[str, Any]:
    if (not isinstance(trigger, Mapping) or len(trigger) != 1
            or next(iter(trigger)) not in ("interval", "cron")
            or not isinstance(next(iter(trigger.values())), Mapping)):
        raise JobConfigError(f"job {job_id!r}: trigger must be {{interval: {{...}}}} or {{cron: {{...}}}}, "
                             f"got {trigger!r}")
    return dict(trigger)


def _site_names(job_id: str, raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """Sites for a per-site job: from ``sites_from`` plus the ``sites`` overrides."""
    names: list[str] = []
    problem = None
    if raw.get("sites_from"):
        try:
            found = resolve(raw["sites_from"])()
            names = sorted(found.keys() if isinstance(found, Mapping) else found)
        except Exception as exc:  # noqa: BLE001 - a broken source of sites is reported, not fatal
            problem = f"{raw['sites_from']}: {type(exc).__name__}: {exc}"
    for name, over in overrides.items():
        if over is False:
            names = [n for n in names if n != name]
        elif name not in names:
            names.append(name)
    return names, problem


def _precedence(source: str) -> int:
    """Which configuration layer a value came from: shipped file 0, user file 1, environment 2."""
    if source.startswith("environment"):
        return 2
    try:
        Path(source).resolve().relative_to(settings.CONFIG_DIR.resolve())
        return 0
    except ValueError:
        return 1


def _as_overridden(trigger: Any, dotted: str, origins: Mapping[str, str]) -> Any:
    """A trigger as its highest configuration layer wrote it: an override replaces, never merges.

    Settings merge mappings key by key, so ``{interval: {seconds: 10}}`` in a user file
    over the shipped ``{interval: {minutes: 5}}`` would read "every 5 min 10 s", and
    ``{cron: {...}}`` could never replace an interval. Here only the fields of the layer
    with the highest precedence are kept.
    """
    if not isinstance(trigger, Mapping):
        return trigger
    leaves = {key[len(dotted) + 1:]: src for key, src in origins.items()
              if key.startswith(dotted + ".") and key.count(".") == dotted.count(".") + 2}
    if len(set(leaves.values())) <= 1:
        return trigger
    top = max(set(leaves.values()), key=_precedence)
    out: dict[str, dict[str, Any]] = {}
    for leaf, src in leaves.items():
        if src == top:
            kind, name = leaf.split(".", 1)
            if isinstance(trigger.get(kind), Mapping) and name in trigger[kind]:
                out.setdefault(kind, {})[name] = trigger[kind][name]
    return out or trigger


def load_jobs(cfg: Mapping[str, Any] | None = None) -> list[JobSpec]:
    """Every configured job, per-site jobs expanded, in dependency order.

    Read from the settings (``cfg`` None), a trigger given in a user file or the
    environment replaces the shipped one rather than merging into it.
    """
    origins = settings.get().origins if cfg is None else {}
    cfg = section() if cfg is None else settings.thaw(cfg)
    jobs = cfg.get("jobs") or {}
    if not isinstance(jobs, Mapping):
        raise JobConfigError("scheduler.jobs must be a mapping of job id to job")
    overrides = cfg.get("sites") or {}
    out: list[JobSpec] = []
    for job_id, raw in jobs.items():
        if raw is False or raw is None:
            continue                                  # switched off
        if not isinstance(raw, Mapping) or not raw.get("func"):
            raise JobConfigError(f"job {job_id!r}: needs at least func and trigger")
        trigger = _check_trigger(job_id, _as_overridden(raw.get("trigger"), f"scheduler.jobs.{job_id}.trigger",
                                                        origins))
        try:
            resolve(str(raw["func"]))
        except JobConfigError as exc:
            raise JobConfigError(f"job {job_id!r}: {exc}") from exc
        grace = raw.get("misfire_grace_s")
        common = dict(func=str(raw["func"]), order=int(raw.get("order", 100)),
                      once=bool(raw.get("once", True)), store=bool(raw.get("store", False)),
                      misfire_grace_s=None if grace is None else int(grace))
        if not raw.get("per_site"):
            out.append(JobSpec(id=job_id, trigger=trigger, args=tuple(raw.get("args") or ()),
                               kwargs=dict(raw.get("kwargs") or {}), **common))
            continue
        names, problem = _site_names(job_id, raw, overrides)
        if problem:   # the list of sites itself is broken: a job that reports it on every run
            log.warning("job %s: cannot list sites: %s", job_id, problem)
            out.append(JobSpec(id=f"{job_id}:sites", trigger=trigger, **{**common, "func": raw["sites_from"],
                                                                         "store": False}))
        for site in names:
            over = overrides.get(site) or {}
            if not isinstance(over, Mapping):
                raise JobConfigError(f"scheduler.sites.{site}: expected a mapping or false")
            args = tuple(a.replace("{site}", site) if isinstance(a, str) else a
                         for a in (raw.get("args") or ["{site}"]))
            kwargs = {**dict(raw.get("kwargs") or {}), **dict(over.get("kwargs") or {})}
            out.append(JobSpec(id=f"{job_id}:{site}", args=args, kwargs=kwargs,
                               trigger=_check_trigger(f"{job_id}:{site}", _as_overridden(
                                   over.get("trigger", trigger), f"scheduler.sites.{site}.trigger", origins)),
                               **common))
    out.sort(key=lambda j: (j.order, j.id))
    return out


def find(job_id: str, cfg: Mapping[str, Any] | None = None) -> JobSpec:
    for spec in load_jobs(cfg):
        if spec.id == job_id:
            return spec
    raise JobConfigError(f"no job {job_id!r} in the scheduler configuration")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "as_dict"):          # the result's own view (it may add a status)
        value = value.as_dict()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "_asdict"):
        value = value._asdict()
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        value = {"value": value}
    return json.loads(json.dumps(value, default=str))


def _call(spec: JobSpec, store) -> Any:
    fn = resolve(spec.func)
    args = list(spec.args)
    if spec.store:
        args.insert(0, store)
    kwargs = dict(spec.kwargs)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    if "stop" in params and "stop" not in kwargs:
        kwargs["stop"] = STOP
    return fn(*args, **kwargs)


def run_job(job_id: str, trigger: str = "schedule", *, store=None, spec: JobSpec | None = None) -> dict[str, Any]:
    """Run one job now and record the run; never raises for the job's own failure."""
    family, _, site = job_id.partition(":")
    with logs.context(job=job_id, site=site if family == "crawl" else None):
        return _run_job(job_id, trigger, store=store, spec=spec)


def _run_job(job_id: str, trigger: str, *, store=None, spec: JobSpec | None = None) -> dict[str, Any]:
    from earwitness.kernel.store import open_store
    store = store or open_store()
    with store.session() as s:
        run = JobRun(job_id=job_id, trigger=trigger, status="running", host=HOST, pid=os.getpid())
        s.add(run)
    status, result, error = "ok", None, None
    try:
        spec = spec or find(job_id)
        log.info("job %s: starting (%s)", job_id, spec.func)
        result = _jsonable(_call(spec, store))
        status, error = judge(result)
    except Exception as exc:  # noqa: BLE001 - recorded; one job's failure never stops the others
        status = "failed"
        error = one_line_error(exc) or "".join(traceback.format_exception_only(type(exc), exc)).strip()
        error += "\n" + "".join(traceback.format_tb(exc.__traceback__)[-3:])
    finished = utcnow()
    with store.session() as s:    # through the ORM, so the outbox mirrors the finished run
        row = s.get(JobRun, run.id)
        row.status, row.finished_at, row.result, row.error = status, finished, result, error
    level = logging.WARNING if status == "failed" else logging.INFO
    log.log(level, "job %s: %s%s", job_id, status, f": {error.splitlines()[0]}" if error else "")
    return {"job": job_id, "status": status, "result": result, "error": error,
            "started_at": run.started_at.isoformat(), "finished_at": finished.isoformat(),
            "seconds": round((finished - run.started_at).total_seconds(), 3)}


def judge(result: Mapping[str, Any]) -> tuple[str, str | None]:
    """A run's status and error line from what the job returned (see the module's notes)."""
    raw_errors = result.get("errors")
    errs = [str(e) for e in raw_errors] if isinstance(raw_errors, (list, tuple)) else []
    counted = next((result[k] for k in ("failed", "errors") if isinstance(result.get(k), int)
                    and not isinstance(result.get(k), bool)), 0)
    declared = result.get("status")
    if declared in ("ok", "partial", "failed"):
        status = declared
    elif result.get("ok") is False:   # a report that says it failed (a crawl child's exit code...)
        status = "failed"
    elif counted > 0:                 # items failed and the job did not say more: some failed
        status = "partial"
    else:
        status = "ok"
    if status == "ok":
        return status, None
    reason = result.get("reason")
    detail = "; ".join(errs[:3]) if errs else (str(reason) if reason else f"job reported: {_short(result)}")
    return status, detail


def one_line_error(exc: BaseException) -> str | None:
    """A full disk, a read-only data home or an unreachable store, said in one line a person can act on."""
    return env_errors.one_line(exc)


def _short(result: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in result.items() if not isinstance(v, (dict, list)))[:300]


def run_scheduled(job_id: str) -> None:
    """What APScheduler calls (by textual reference, so its job store holds only the id)."""
    run_job(job_id, "schedule")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(store) -> list[str]:
    """Mark this host's ``running`` rows whose process is gone as ``interrupted``; their job ids."""
    with store.session() as s:
        rows = s.execute(select(JobRun.id, JobRun.job_id, JobRun.pid)
                         .where(JobRun.status == "running", JobRun.host == HOST)).all()
        dead = [r for r in rows if r.pid != os.getpid() and not _alive(r.pid)]
        for row in s.scalars(select(JobRun).where(JobRun.id.in_([r.id for r in dead]))) if dead else ():
            row.status, row.finished_at = "interrupted", utcnow()
            row.error = "the process running this job ended before the job did"
    return sorted({r.job_id for r in dead})


def record_failed(store, job_ids: list[str], error: str, trigger: str = "once") -> None:
    """Record runs that could not start (the data home cannot be written...) as ``failed``."""
    now = utcnow()
    with store.session() as s:
        for job_id in job_ids:
            s.add(JobRun(job_id=job_id, trigger=trigger, status="failed", host=HOST, pid=os.getpid(),
                         started_at=now, finished_at=now, error=error))


def running_here(store) -> list[str]:
    """Ids of the runs this process has started and not finished."""
    with store.session() as s:
        return list(s.scalars(select(JobRun.id).where(JobRun.status == "running", JobRun.host == HOST,
                                                      JobRun.pid == os.getpid())))


def wait_running(store, timeout_s: float) -> list[str]:
    """Wait up to ``timeout_s`` for this process's running jobs to end; the run ids still running."""
    import time
    end = time.monotonic() + timeout_s
    while True:
        left = running_here(store)
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.1)


def mark_stopped(store, run_ids: list[str]) -> list[str]:
    """Record runs cut short by a stop as ``interrupted``; their job ids."""
    with store.session() as s:
        job_ids = list(s.scalars(select(JobRun.job_id).where(JobRun.id.in_(run_ids))))
        for row in s.scalars(select(JobRun).where(JobRun.id.in_(run_ids), JobRun.status == "running")):
            row.status, row.finished_at = "interrupted", utcnow()
            row.error = ("the daemon was stopped before this job reached a safe point; "
                         "its work resumes at its next run")
    return sorted(set(job_ids))


def last_runs(store) -> dict[str, dict[str, Any]]:
    """Each job's latest run and its latest successful run."""
    with store.session() as s:
        return last_runs_in(s)


def last_runs_in(s) -> dict[str, dict[str, Any]]:
    """:func:`last_runs` in an open session (the web app's), with ``red`` for a run to look at."""
    out: dict[str, dict[str, Any]] = {}
    latest = (select(JobRun.job_id, func.max(JobRun.started_at).label("at"))
              .group_by(JobRun.job_id).subquery())
    rows = s.scalars(select(JobRun).join(latest, (JobRun.job_id == latest.c.job_id)
                                         & (JobRun.started_at == latest.c.at)))
    for run in rows:
        status = run.status
        if status == "running" and run.host == HOST and not _alive(run.pid):
            status = "interrupted"
        out[run.job_id] = {"status": status, "started_at": run.started_at,
                           "finished_at": run.finished_at, "result": run.result,
                           "error": run.error, "pid": run.pid, "host": run.host,
                           "red": status in FAILED_STATES}
    ok = s.execute(select(JobRun.job_id, func.max(JobRun.finished_at))
                   .where(JobRun.status == "ok").group_by(JobRun.job_id)).all()
    for job_id, at in ok:
        out.setdefault(job_id, {})["last_ok_at"] = at
    return out
