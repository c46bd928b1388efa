"""``earwitness demo``: the whole system once, end to end, on the local fixture platform.

Steps: build the fixture platform (generated songs, disguised uploads, live
rooms; cached after the first time), import its catalog, serve it on
127.0.0.1, point the crawler's ``fixture`` site at it, run every daemon job
once in dependency order (crawl, live sampling, matching, evidence, drafting,
re-check, Elasticsearch sync), then print what happened and where the files
are. A step that fails is reported and the demo goes on with the rest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click
from sqlalchemy import func, inspect, select

from earwitness.app import catalog, jobs, progress
from earwitness.kernel import output
from matchers.match import MAX_SCORE
from earwitness.kernel.store.case_models import Notice
from fixtures import build as fixture_build, platform as fixture_platform
from notices import export
from earwitness.kernel import settings


class DemoError(Exception):
    """A demo step could not run."""


@dataclass
class Demo:
    """State carried between the steps."""

    live_window_s: float
    live: bool
    auto_confirm: bool = True
    port: int = 0
    letters: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    root: Path | None = None
    manifest: Path | None = None
    server: Any = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def say(self, text: str) -> None:
        click.echo(f"[{time.monotonic() - self.started:6.1f}s] {text}")


def step_build(demo: Demo, store) -> None:
    build = fixture_build
    root = build.default_root()
    if build.is_built(root):
        demo.say(f"fixture platform already built at {root}")
    else:
        demo.say(f"building the fixture platform into {root} (songs, disguised uploads, live rooms; "
                 "only the first time) …")
    demo.root = progress.while_running("building the fixture platform", lambda: build.build(root))
    demo.manifest = demo.root / "catalog" / "manifest.csv"
    if not demo.manifest.is_file():
        raise DemoError(f"the built platform has no {demo.manifest}")


def step_catalog(demo: Demo, store) -> None:
    if demo.manifest is None:
        raise DemoError("no catalog manifest (the platform build did not run)")
    from matchers.catalog import read_manifest
    demo.say(f"importing the catalog {demo.manifest} …")
    counts: dict[str, int] = {}
    entries = read_manifest(demo.manifest)
    with progress.bar("fingerprinting the catalog", total=len(entries)) as bar:
        def on_outcome(outcome) -> None:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            bar.advance(note=outcome.entry.track_id)
            if outcome.error:
                bar.log(f"          {outcome.entry.track_id}: {outcome.status} ({outcome.error})")

        catalog.import_catalog(store, entries, progress=on_outcome)
    demo.say("catalog: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def step_serve(demo: Demo, store) -> None:
    platform = fixture_platform
    demo.server = platform.serve(port=demo.port, root=demo.root, build=demo.root is None)
    # the crawler (and its child processes) read the site's base URL from the settings
    os.environ["EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL"] = demo.server.url
    # the demo serves and crawls only the fixture site: its canary checks that site, not the
    # real platforms (unconfigured here) nor the fighting site (not served by the demo)
    os.environ.setdefault("EARWITNESS__SCHEDULER__JOBS__CANARY__KWARGS", "{sites: [fixture]}")
    os.environ.setdefault("EARWITNESS__CRAWLER__LIVE__WINDOW_S", str(demo.live_window_s))
    os.environ.setdefault("EARWITNESS__CRAWLER__LIVE__EVIDENCE_S", str(demo.live_window_s * 2))
    if demo.auto_confirm:
        # the demo has no reviewer: the notices stage's auto-confirm policy (off by default)
        # confirms the detections that meet its thresholds; the others wait for review
        os.environ["EARWITNESS__NOTICES__AUTO_CONFIRM__ENABLED"] = "true"
    settings.configure(settings.get().home)
    demo.say(f"fixture platform serving at {demo.server.url}")


def step_jobs(demo: Demo, store) -> None:
    import scheduler
    specs = jobs.load_jobs()
    skip = [s.id for s in specs if s.id.startswith("crawl:") and s.id != "crawl:fixture"]
    if not demo.live:
        skip.append("live")

    current = {"job": ""}

    def on_job(spec, res) -> None:
        if res is None:
            current["job"] = spec.id
            demo.say(f"job {spec.id}: {spec.func} …")
            return
        detail = (", ".join(f"{k}={v}" for k, v in (res["result"] or {}).items()
                            if isinstance(v, (int, float, str, bool)) and k not in ("site",))
                  if res["status"] == "ok" else (res["error"] or "").splitlines()[0])
        demo.say(f"job {spec.id}: {res['status']} in {res['seconds']:.1f}s  {detail[:150]}")

    from earwitness.app.crawl_commands import clips_since
    from earwitness.kernel.store.models import utcnow
    started = utcnow()
    demo.results = progress.while_running(
        "running every job once", lambda: scheduler.run_once(store, exclude=skip, progress=on_job),
        note=lambda: f"{current['job']}: {clips_since(started)}")


def step_letters(demo: Demo, store) -> None:
    """Render each drafted notice as PDF and DOCX under <home>/letters (drafting writes none)."""
    out = settings.get().path("letters")
    with store.session() as s:
        ids = list(s.scalars(select(Notice.id).where(Notice.state == "draft")
                             .order_by(Notice.created_at)))
    if not ids:
        demo.say("no drafted notices to render")
        return
    for notice_id in ids:
        for fmt in ("pdf", "docx"):
            with store.session() as s:
                demo.letters += export.export(s, notice_id, fmt, out)
    demo.say(f"rendered {len(ids)} drafted notices as PDF and DOCX into {out}")


def _counts(session, table: str, col: str) -> dict[str, int]:
    from sqlalchemy import column, table as t
    if not inspect(session.get_bind()).has_table(table):
        return {}
    tb = t(table, column(col))
    return {k: n for k, n in session.execute(select(tb.c[col], func.count()).group_by(tb.c[col]))}


def summarize(store, home: Path) -> list[str]:
    """What the store holds after the run, as lines for people."""
    from earwitness.kernel.store.models import Clip, Detection, Work
    lines = []
    with store.session() as s:
        works = s.scalar(select(func.count()).select_from(Work))
        clips = _counts(s, "clips", "status")
        live = s.scalar(select(func.count()).select_from(Clip).where(Clip.is_live.is_(True)))
        licensed = s.scalar(select(func.count()).select_from(Clip).where(Clip.licensed.is_(True)))
        lines.append(f"works in the catalog: {works}")
        lines.append(f"clips: {sum(clips.values())} ({', '.join(f'{k} {v}' for k, v in sorted(clips.items())) or 'none'}); "
                     f"live windows {live}; licensed uploads {licensed}")
        dets = s.execute(select(Detection, Work.title, Clip.platform, Clip.url)
                         .join(Work, Detection.work_id == Work.id).join(Clip, Detection.clip_id == Clip.id)
                         .order_by(Detection.created_at)).all()
        lines.append(f"detections: {len(dets)} (score: -log10 of the chance of a match by accident; "
                     f"reported from {settings.get().section('matcher').get('threshold', 11):g})")
        for det, title, platform, url in dets[:25]:
            score = f">= {MAX_SCORE:.0f} (capped)" if det.score >= MAX_SCORE else f"{det.score:.0f}"
            lines.append(f"  {title or det.work_id} in {platform} {url}  score {score}, "
                         f"pitch {output.signed(det.pitch_semitones)} st, tempo x{det.tempo_ratio:.2f}, "
                         f"{det.review_state}")
        if len(dets) > 25:
            lines.append(f"  … and {len(dets) - 25} more (earwitness detections list)")
        cases = _counts(s, "cases", "state")
        if cases:
            lines.append(f"cases: {sum(cases.values())} ({', '.join(f'{k} {v}' for k, v in sorted(cases.items()))})")
        notices = _counts(s, "notices", "state")
        if notices:
            lines.append(f"notices: {sum(notices.values())} ({', '.join(f'{k} {v}' for k, v in sorted(notices.items()))})")
    for label, sub in (("letters", "letters"), ("evidence", "evidence"), ("reports", "reports"),
                       ("media", "media")):
        path = home / sub
        if path.is_dir():
            n = sum(1 for p in path.rglob("*") if p.is_file())
            lines.append(f"{label}: {n} files under {path}")
    return lines


STEPS: list[tuple[str, Callable[[Demo, Any], None]]] = [
    ("build the fixture platform", step_build),
    ("import the catalog", step_catalog),
    ("serve the fixture platform", step_serve),
    ("run every job once", step_jobs),
    ("render the drafted letters", step_letters),
]


@click.command()
@click.option("--live/--no-live", default=True, help="Sample the live rooms too (README: how long each part takes).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the fixture platform on 127.0.0.1 while the demo runs (0: any free port).")
@click.option("--live-window", type=float, default=12.0, show_default=True,
              help="Seconds recorded from each live room.")
@click.option("--auto-confirm/--no-auto-confirm", default=True,
              help="Let the auto-confirm policy stand in for a reviewer (on for the demo only).")
@click.pass_context
def demo(ctx: click.Context, live: bool, port: int, live_window: float, auto_confirm: bool) -> None:
    """Run the whole system once on the local fixture platform and show what it found.

    Everything goes into the data home (`earwitness status` says which); the README says how long it takes.
    """
    import scheduler
    home = settings.get().home
    source, _ = ctx.find_root().meta.get("earwitness.home_option", (None, None))
    home_flag = f" --home {home}" if source == click.core.ParameterSource.COMMANDLINE else ""
    try:
        with scheduler.holding_lock(home):
            _run(home, live=live, live_window=live_window, auto_confirm=auto_confirm, port=port, home_flag=home_flag)
    except scheduler.AlreadyRunning as exc:
        raise click.ClickException(f"{exc}; stop it or use another --home for the demo") from exc


def _run(home: Path, *, live: bool, live_window: float, auto_confirm: bool, port: int = 0,
         home_flag: str = "") -> None:
    from earwitness.kernel.store import open_store
    store = open_store()
    state = Demo(live_window_s=live_window, live=live, auto_confirm=auto_confirm, port=port)
    state.say(f"data home {home}")
    failed = []
    try:
        for title, fn in STEPS:
            try:
                fn(state, store)
            except Exception as exc:  # noqa: BLE001 - report and go on with the rest
                state.say(f"step '{title}' failed: {type(exc).__name__}: {exc}")
                failed.append(title)
    finally:
        if state.server is not None:
            state.server.close()
    click.echo("")
    click.echo("What happened")
    for line in summarize(store, home):
        click.echo(f"  {line}")
    job_failed = [r["job"] for r in state.results if r["status"] == "failed"]
    if job_failed or failed:
        click.echo(f"Failed: {', '.join(failed + job_failed)} (earwitness status shows the errors)")
    for path in state.letters:
        click.echo(f"  letter: {path}")
    click.echo(f"Done in {time.monotonic() - state.started:.0f} s.")
    click.echo(f"Next: earwitness{home_flag} detections list   (every detection, with ids)")
    click.echo(f"      earwitness{home_flag} cases list        (the cases it opened)")
    click.echo(f"      earwitness{home_flag} status            (jobs, backlog, the data home {home})")
    if job_failed or failed:
        raise SystemExit(1)
