"""``earwitness daemon`` and ``earwitness status``: run the jobs, and say what they did."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click
from sqlalchemy import column, func, inspect, select, table

from crawler import live_store
from earwitness.app import jobs, logs, site_commands


def _store():
    """The store, or one line a person can act on (unreachable, read-only, disk full) and exit 1."""
    from earwitness.kernel.store import open_store
    try:
        return open_store()
    except Exception as exc:  # noqa: BLE001 - said in one line when we know what it means
        line = jobs.one_line_error(exc)
        if line is None:
            raise
        raise click.ClickException(line) from None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _colour(status: str | None, width: int) -> str:
    """A run status padded to ``width``: red when it failed in whole or part, green when ok."""
    text = f"{status or 'never':<{width}}"
    if status in jobs.FAILED_STATES:
        return click.style(text, fg="red", bold=True)
    return click.style(text, fg="green") if status == "ok" else text


def _summary(result: dict | None, limit: int = 90) -> str:
    if not result:
        return ""
    text = ", ".join(f"{k}={v}" for k, v in result.items() if not isinstance(v, (dict, list)))
    return text if len(text) <= limit else text[:limit - 1] + "…"


@click.command()
@click.option("--once", is_flag=True, help="Run every job once in dependency order, then exit.")
@click.option("--only", "only", multiple=True, metavar="JOB", help="With --once: only these jobs (id or family).")
@click.option("--with", "include", multiple=True, metavar="JOB",
              help="With --once: also run jobs left out of --once (e.g. monthly_report).")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the results as JSON.")
@click.option("--log-format", type=click.Choice(logs.FORMATS), envvar="EARWITNESS_LOG_FORMAT", default="plain",
              show_default=True, help="Log lines as text, or JSON lines (ts, level, logger, msg, job, site, ids).")
@click.option("--log-file", type=click.Path(dir_okay=False), envvar="EARWITNESS_LOG_FILE",
              help="Append the log here (default: stderr, which systemd sends to the journal).")
def daemon(once: bool, only: tuple[str, ...], include: tuple[str, ...], as_json: bool, log_format: str,
           log_file: str | None) -> None:
    """Run the scheduled jobs in the foreground (SIGTERM or Ctrl-C stops cleanly).

    The daemon logs at INFO or more (-vv for debug; --once: warnings, -v for more); each line
    names its job and, for a crawl, its site.
    """
    import logging
    import os

    import scheduler
    level = logging.getLogger().level if once else min(logging.getLogger().level, logging.INFO)
    logs.configure(level=level, fmt=log_format, file=log_file,
                   journal=bool(os.environ.get("JOURNAL_STREAM")) and not log_file)
    store = _store()
    try:
        specs = jobs.load_jobs()
    except jobs.JobConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not once:
        try:
            for spec in specs:                  # refuse to start on a bad trigger, naming the job
                scheduler.make_trigger(spec)
            scheduler.run_forever(store)
        except jobs.JobError as exc:
            raise click.ClickException(str(exc)) from exc
        return

    def progress(spec, res):
        if as_json:
            return
        if res is None:
            click.echo(f"» {spec.id:<24} running {spec.func} …", err=True)
            return
        line = f"  {spec.id:<24} {_colour(res['status'], 11)} {res['seconds']:>7.1f}s  "
        line += _summary(res["result"]) if res["status"] == "ok" else (res["error"] or "").splitlines()[0]
        click.echo(line)

    del specs
    from earwitness.kernel import settings
    try:   # jobs of one home run in one process at a time: not beside a running daemon
        with scheduler.holding_lock(settings.get().home):
            results = scheduler.run_once(store, only=list(only) or None, include=list(include),
                                         progress=progress)
    except scheduler.AlreadyRunning as exc:
        raise click.ClickException(f"{exc}; it runs these jobs itself") from exc
    except OSError as exc:   # the data home cannot be written: say so, and record it where status looks
        line = jobs.one_line_error(exc)
        if line is None:
            raise
        chosen = [s.id for s in scheduler.chosen_once(jobs.load_jobs(), only=list(only) or None,
                                                      include=list(include))]
        try:
            jobs.record_failed(store, chosen, line)
        except Exception:  # noqa: BLE001 - the store may be on the same broken disk
            pass
        raise click.ClickException(line) from None
    if as_json:
        click.echo(json.dumps(results, indent=2, default=str))
    if any(r["status"] in jobs.FAILED_STATES for r in results):
        sys.exit(1)


def _group_counts(session, table_name: str, col: str) -> dict[str, int] | None:
    bind = session.get_bind()
    if not inspect(bind).has_table(table_name):
        return None
    t = table(table_name, column(col))
    return {k: n for k, n in session.execute(select(t.c[col], func.count()).group_by(t.c[col]))}


def backlog(store) -> dict[str, Any]:
    """Counts that say what is waiting: clips to match, detections to review, cases by state..."""
    from earwitness.kernel.store.models import OutboxEntry
    out: dict[str, Any] = {}
    with store.session() as s:
        for name, tbl, col in (("clips", "clips", "status"), ("detections", "detections", "review_state"),
                               ("frontier", "crawl_frontier", "state"), ("cases", "cases", "state"),
                               ("notices", "notices", "state")):
            counts = _group_counts(s, tbl, col)
            if counts is not None:
                out[name] = counts
        out["outbox"] = s.scalar(select(func.count()).select_from(OutboxEntry)) or 0
    return out


def collect_status(store) -> dict[str, Any]:
    """Every configured job's schedule, last run and next run, plus the backlog."""
    import scheduler
    now = datetime.now(timezone.utc)
    try:
        specs = jobs.load_jobs()
        config_error = None
    except jobs.JobError as exc:
        specs, config_error = [], str(exc)
    runs = jobs.last_runs(store)
    stored = scheduler.stored_schedule(store)
    rows = []
    for spec in specs:
        run = runs.get(spec.id, {})
        sched = stored.get(spec.id, {})
        rows.append({
            "job": spec.id, "func": spec.func, "schedule": spec.describe_trigger(),
            "last_status": run.get("status"), "last_started_at": _iso(run.get("started_at")),
            "last_finished_at": _iso(run.get("finished_at")), "last_ok_at": _iso(run.get("last_ok_at")),
            "last_result": run.get("result"),
            "last_error": (run.get("error") or "").splitlines()[0] if run.get("error") else None,
            "next_run": _iso(sched.get("next_run")),
            "scheduled": spec.id in stored,
        })
    orphans = sorted(set(runs) - {s.id for s in specs})
    from earwitness.kernel import settings
    return {"now": now.isoformat(), "daemon_pid": scheduler.daemon_pid(settings.get().home),
            "config_error": config_error, "jobs": rows,
            "other_jobs": {j: {"status": runs[j].get("status"), "started_at": _iso(runs[j].get("started_at"))}
                           for j in orphans},
            "backlog": backlog(store), "live_coverage": live_store.coverage(store),
            **site_commands.site_status(store)}


def _ago(iso: str | None, now: datetime) -> str:
    if not iso:
        return "-"
    delta = (now - datetime.fromisoformat(iso)).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(delta) >= size:
            return f"{delta / size:.0f}{unit} ago" if delta >= 0 else f"in {-delta / size:.0f}{unit}"
    return f"{delta:.0f}s ago" if delta >= 0 else f"in {-delta:.0f}s"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The data home in use, each job's last run, result and next run, and the backlog counts."""
    from earwitness.app.config_commands import home_origin, masked_url
    from earwitness.kernel import settings
    store = _store()
    st = collect_status(store)
    cfg = settings.get()
    st["home"] = {"path": str(cfg.home), "origin": home_origin(ctx, cfg), "store_url": masked_url(store.url)}
    if as_json:
        click.echo(json.dumps(st, indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"data home: {st['home']['path']}  (from {st['home']['origin']}; store {st['home']['store_url']})")
    now = datetime.fromisoformat(st["now"])
    pid = st["daemon_pid"]
    click.echo(f"daemon: running (pid {pid})" if pid else "daemon: not running (next runs are as stored)")
    if st["config_error"]:
        click.echo(f"configuration error: {st['config_error']}")
    jw = max([len(r["job"]) for r in st["jobs"]] + [3])
    sw = max([len(r["schedule"]) for r in st["jobs"]] + [8])
    click.echo(f"{'job':<{jw}}  {'schedule':<{sw}}  {'last run':<10} {'result':<11} {'next run':<13} detail")
    for row in st["jobs"]:
        detail = row["last_error"] or _summary(row["last_result"], 70)
        nxt = _ago(row["next_run"], now) if row["next_run"] else ("-" if row["scheduled"] else "not scheduled")
        click.echo(f"{row['job']:<{jw}}  {row['schedule']:<{sw}}  {_ago(row['last_started_at'], now):<10} "
                   f"{_colour(row['last_status'], 11)} {nxt:<13} {detail}")
    click.echo("")
    for name, counts in st["backlog"].items():
        if isinstance(counts, dict):
            text = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"
        else:
            text = str(counts)
        click.echo(f"{name + ':':<12} {text}")
    site_commands.echo_site_status(st)
    cov = st["live_coverage"]
    if cov["rooms"]:
        sites = ", ".join(f"{p} {v:.1%}" for p, v in cov["sites"].items())
        click.echo(f"live airtime heard (recorded and run through the matcher), last {cov['hours']:g} h: {sites}")
        for r in cov["rooms"]:
            click.echo(f"  {r['platform']}/{r['room_id']}: {r['share']:.1%}")
