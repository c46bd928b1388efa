"""``earwitness bench workers``: matcher throughput with 1, 2, ... worker processes, measured in one run.

Builds a generated catalog and a set of stored clips in the (empty) data home, then
for each worker count: resets the clips to ``fetched``, starts that many
``earwitness workers match`` processes, waits until each has mapped the index and
is consuming (its Dramatiq heartbeat is in Redis), enqueues every clip and times
until none is left ``fetched``. Uses the configured store and broker: on SQLite a
match holds the database's write lock, so only PostgreSQL lets workers overlap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np
from sqlalchemy import delete, func, select, update

WORKER_CMD = [sys.executable, "-c", "import sys; from earwitness.app.cli import main; sys.exit(main())",
              "workers", "match"]


def _make_clips(store, home: Path, n_clips: int, n_works: int, clip_s: float, seed: int) -> list[str]:
    """A catalog of ``n_works`` generated songs (imported) and ``n_clips`` stored excerpts of them."""
    from earwitness.app.catalog import import_manifest
    from earwitness.kernel.store.models import Clip
    from fixtures.music import SAMPLE_RATE, demo_songs, synthesize, write_catalog, write_wav
    songs = demo_songs(n_works, duration_s=40.0, prefix="bench")
    import_manifest(store, write_catalog(home / "bench-catalog", songs))
    rng = np.random.default_rng(seed)
    audio = {}
    ids = []
    with store.session() as s:
        for i in range(n_clips):
            song = songs[i % n_works]
            if song.seed not in audio:
                audio[song.seed] = synthesize(song.seed, 40.0)
            start = int(rng.uniform(0, 40.0 - clip_s) * SAMPLE_RATE)
            path = write_wav(home / "media" / "bench" / f"clip{i:04d}.wav",
                             audio[song.seed][start:start + int(clip_s * SAMPLE_RATE)])
            clip = Clip(platform="bench", url=f"bench://clip{i}", media_id=f"clip{i}", status="fetched",
                        media_path=str(path.relative_to(home)), audio_sha256=f"bench-{i}")
            s.add(clip)
            s.flush()
            ids.append(clip.id)
    return ids


def _reset(store, ids: list[str]) -> None:
    from earwitness.kernel.store.models import Clip, Detection
    with store.session() as s:
        s.execute(delete(Detection).where(Detection.clip_id.in_(ids)))
        s.execute(update(Clip).where(Clip.id.in_(ids)).values(status="fetched", matched_at=None, error=None,
                                                               matcher_version=None))


def _fetched(store, ids: list[str]) -> int:
    from earwitness.kernel.store.models import Clip
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Clip).where(Clip.id.in_(ids), Clip.status == "fetched"))


def _detections(store, ids: list[str]) -> list[tuple[str, str]]:
    from earwitness.kernel.store.models import Detection
    with store.session() as s:
        return sorted(s.execute(select(Detection.clip_id, Detection.work_id).where(Detection.clip_id.in_(ids))).all())


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(store, ids: list[str], n_workers: int, broker_url: str, env: dict, timeout_s: float) -> dict:
    """Time ``n_workers`` fresh worker processes matching every clip in ``ids``."""
    import redis

    from earwitness.app import match_queue
    _reset(store, ids)
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    logs = [Path(env["EARWITNESS_HOME"]) / f"bench-worker-{n_workers}-{i}.log" for i in range(n_workers)]
    procs = [subprocess.Popen(WORKER_CMD, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")) for log in logs]
    try:
        deadline = time.monotonic() + timeout_s
        while client.zcard("dramatiq:__heartbeats__") < n_workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                tail = logs[0].read_text(errors="replace")[-2000:]
                raise click.ClickException(f"matcher workers did not start; the first one said:\n{tail}")
            time.sleep(0.1)
        load_before = os.getloadavg()[0]
        cpu0 = sum(_cpu_s(p.pid) for p in procs)
        t0 = time.perf_counter()
        for clip_id in ids:
            match_queue.enqueue_clip(store, clip_id)
        while _fetched(store, ids):
            if time.monotonic() > deadline:
                raise click.ClickException(f"{n_workers} workers did not finish within {timeout_s:.0f}s")
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu = sum(_cpu_s(p.pid) for p in procs) - cpu0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    return {"workers": n_workers, "clips": len(ids), "seconds": round(elapsed, 2),
            "clips_per_s": round(len(ids) / elapsed, 3), "worker_cpu_s_per_clip": round(cpu / len(ids), 3),
            "worker_cores_busy": round(cpu / elapsed, 2), "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2)}


@click.command()
@click.option("--clips", "n_clips", type=int, default=60, show_default=True, help="Stored clips to match per run.")
@click.option("--works", "n_works", type=int, default=20, show_default=True, help="Generated catalog works.")
@click.option("--clip-seconds", type=float, default=15.0, show_default=True)
@click.option("--max-workers", type=int, default=2, show_default=True, help="Runs with 1..N worker processes.")
@click.option("--broker", "broker_url", help="Redis URL (default: workers.broker_url).")
@click.option("--timeout", "timeout_s", type=float, default=900.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def workers(n_clips, n_works, clip_seconds, max_workers, broker_url, timeout_s, as_json):
    """Matcher throughput with 1..N worker processes on the configured store and broker (one run).

    Run it in an empty data home (``earwitness --home DIR bench workers``): it adds a catalog and clips.
    """
    from earwitness.kernel import settings
    from earwitness.kernel.store import open_store
    from earwitness.kernel.store.models import Clip
    cfg = settings.get()
    store = open_store()
    with store.session() as s:
        if s.scalar(select(func.count()).select_from(Clip)):
            raise click.ClickException(f"{cfg.home} already holds clips: run the bench in an empty data home")
    broker_url = broker_url or cfg.section("workers")["broker_url"]
    ids = _make_clips(store, cfg.home, n_clips, n_works, clip_seconds, seed=7)
    env = {**os.environ, "EARWITNESS_HOME": str(cfg.home), "EARWITNESS__STORE_URL": cfg.store_url,
           "EARWITNESS__WORKERS__BROKER_URL": broker_url}
    rows, reference = [], None
    for n in range(1, max_workers + 1):
        row = run_once(store, ids, n, broker_url, env, timeout_s)
        found = _detections(store, ids)
        reference = found if reference is None else reference
        row["same_detections_as_1_worker"] = found == reference
        row["detections"] = len(found)
        rows.append(row)
    base = rows[0]["clips_per_s"]
    for row in rows:
        row["speedup"] = round(row["clips_per_s"] / base, 2)
    result = {"store": store.engine.dialect.name, "cpus": os.cpu_count(), "clip_seconds": clip_seconds,
              "works": n_works, "runs": rows}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"matcher workers on {result['store']}, {n_clips} clips of {clip_seconds:.0f} s, {n_works} works, "
               f"{result['cpus']} CPUs")
    click.echo("workers  seconds  clips/s  speedup  CPU-s/clip  cores busy  detections  same  load(1m) before/after")
    for r in rows:
        click.echo(f"{r['workers']:>7}  {r['seconds']:>7.1f}  {r['clips_per_s']:>7.2f}  {r['speedup']:>6.2f}x  "
                   f"{r['worker_cpu_s_per_clip']:>10.3f}  {r['worker_cores_busy']:>10.2f}  "
                   f"{r['detections']:>10}  {'yes' if r['same_detections_as_1_worker'] else 'NO':>4}  "
                   f"{r['load_1min_before']:.1f}/{r['load_1min_after']:.1f}")
