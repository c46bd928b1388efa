"""Benchmarks of the matcher: ``earwitness bench matcher`` (the public set) and ``bench scale``.

``matcher`` builds an index of the public corpus's catalog tracks (one core,
CPU time measured), writes predictions for every query clip (of the public
bench, or with ``--set`` of make_frontier.py's frontier or negatives set) exactly as
``earwitness match --batch`` does, then runs the project's scorer
(``shared/bench/score.py``) on them. ``--extended`` adds clips past the stated
range (pitch ±3 semitones, speed ±20 %) to show where the matcher breaks.

``scale`` indexes generated catalogs of growing size and reports query time,
index size and memory at each size.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from fixtures.disguise import Disguise
from matchers.catalog import CatalogEntry, import_entries
from matchers.config import DEFAULT, DEFAULT_QUERY, FingerprintConfig, QueryConfig
from matchers.index import FingerprintIndex
from matchers.match import Matcher
from matchers.predictions import PredictionsWriter, query_id

BENCH_DIR = Path(os.environ.get("EARWITNESS_BENCH_DIR", "/tmp/earwitness-bench"))
_ROOT = Path(__file__).resolve().parent.parent.parent
# the public bench's scripts: shared/ beside the checkout (where the team's shared folder is), or in it
SHARED_BENCH = next((p for p in (_ROOT.parent / "shared" / "bench", _ROOT / "shared" / "bench") if p.exists()),
                    _ROOT.parent / "shared" / "bench")


# a quad index's fingerprint and query settings (config/fingerprint.yaml advises the same)
QUAD_FINGERPRINT = {"points": 4, "neighbours": 8, "triplets_per_anchor": 12}
QUAD_QUERY = {"neighbours": 9, "background_neighbours": 10}


def fingerprint_settings(points: int) -> FingerprintConfig:
    """The shipped fingerprint settings, or with ``points`` 4 those recommended for quads (``QUAD_FINGERPRINT``)."""
    return replace(DEFAULT, **(QUAD_FINGERPRINT if points == 4 else {}))


def query_settings(points: int, max_bucket: int | None) -> QueryConfig:
    """The shipped query settings, with what a quad index needs (``QUAD_QUERY``) and ``max_bucket`` if given."""
    qcfg = replace(DEFAULT_QUERY, **(QUAD_QUERY if points == 4 else {}))
    return qcfg if max_bucket is None else replace(qcfg, max_bucket=max_bucket)


def run_scorer(args: list[str], **kwargs) -> None:
    """Run the public bench's ``score.py`` with ``args``; its absence or failure is a clear error."""
    scorer = SHARED_BENCH / "score.py"
    if not scorer.is_file():
        raise click.ClickException(f"the public bench's scorer is not at {scorer} (the shared/ folder "
                                   "beside the checkout)")
    done = subprocess.run([sys.executable, str(scorer), *args], **kwargs)
    if done.returncode != 0:
        raise click.ClickException(f"{scorer} failed (exit {done.returncode}); the predictions it was "
                                   f"given are kept: {' '.join(args)}")


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_index(corpus: Path, out: Path, cfg: FingerprintConfig = DEFAULT, *, echo=print) -> dict:
    """Index the corpus's catalog tracks into ``out`` with fingerprint settings ``cfg``; returns build
    metadata for the scorer."""
    with open(corpus / "manifest.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["set"] == "catalog"]
    shutil.rmtree(out, ignore_errors=True)
    index = FingerprintIndex.open(out, cfg, create=True)
    entries = [CatalogEntry(r["track_id"], corpus / r["wav"]) for r in rows]
    from threadpoolctl import threadpool_limits
    wall, cpu = time.perf_counter(), _cpu_s()
    with threadpool_limits(1):  # one core, as the requirement states it
        outcomes = import_entries(index, entries)
    wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
    failed = [o for o in outcomes if o.status == "failed"]
    hours = sum(o.duration_s or 0 for o in outcomes) / 3600
    stats = index.stats()
    echo(f"indexed {len(outcomes) - len(failed)} tracks, {hours:.2f} h of audio: {cpu:.1f} s CPU "
         f"({hours * 3600 / cpu:.0f}x real time on one core), {wall:.1f} s wall; "
         f"index {stats['disk_bytes'] / 2**20:.1f} MiB ({stats['disk_mib_per_hour']} MiB per hour)")
    return {"build_wall_s": round(cpu, 2), "build_cpu_s": round(cpu, 2), "build_elapsed_s": round(wall, 2),
            "ref_hours": round(hours, 4), "index_bytes": stats["disk_bytes"], "failed": len(failed)}


def predict(matcher: Matcher, clips: list[Path], out_csv: Path, *, echo=print) -> tuple[list[float], list[float]]:
    """Write the predictions CSV (the ``match --batch`` format); returns seconds per clip and, per clip,
    the best score of any work (reported or not: how close chance came)."""
    times, tops = [], []
    with open(out_csv, "w", newline="") as f:
        w = PredictionsWriter(f)
        for n, clip in enumerate(clips, start=1):
            res = matcher.identify_file(clip)
            times.append(res.query_s)
            tops.append(res.top_score)
            w.write(query_id(clip), res)
            if n % 250 == 0:
                echo(f"  {n}/{len(clips)} clips, median {1000 * np.median(times):.1f} ms")
    return times, tops


@click.command()
@click.option("--bench-dir", type=click.Path(path_type=Path), default=BENCH_DIR, show_default=True,
              help="Where shared/bench wrote corpus/ and queries/.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-out/matcher"), show_default=True)
@click.option("--threshold", type=float, default=None, help="Score threshold (default: the documented one).")
@click.option("--reuse-index", is_flag=True, help="Skip the build if OUT/index exists.")
@click.option("--extended", is_flag=True, help="Also score clips past the stated range (pitch ±3, speed ±20 %).")
@click.option("--set", "query_set", type=click.Choice(["queries", "frontier", "negatives"]), default="queries",
              show_default=True, help="Which clips: the public bench, or make_frontier.py's frontier or negatives set.")
@click.option("--every", type=int, default=1, show_default=True, help="Match every n-th clip only (a quick look).")
@click.option("--points", type=click.Choice(["3", "4"]), default="3", show_default=True,
              help="Key family: 3 (triplets, the shipped one) or 4 (quads, with the settings advised for them).")
def matcher(bench_dir: Path, out: Path, threshold: float | None, reuse_index: bool, extended: bool,
            query_set: str, every: int, points: str) -> None:
    """Accuracy, false alarms, speed and index size on the public benchmark (or the frontier/negatives sets)."""
    corpus, queries = bench_dir / "corpus", bench_dir / query_set
    if not (corpus / "manifest.csv").exists() or not (queries / "queries.csv").exists():
        raise click.ClickException(f"no benchmark at {bench_dir}: run shared/bench/make_corpus.py and "
                                   "make_queries.py first (see shared/bench/README.md)")
    out.mkdir(parents=True, exist_ok=True)
    echo = lambda s: click.echo(s, err=True)  # noqa: E731
    meta_path = out / "meta.json"
    if reuse_index and (out / "index" / "index.json").exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        meta = build_index(corpus, out / "index", fingerprint_settings(int(points)), echo=echo)
        meta_path.write_text(json.dumps(meta))
    qcfg = query_settings(int(points), None)
    if threshold is not None:
        qcfg = replace(qcfg, threshold=threshold)
    m = Matcher(FingerprintIndex.open(out / "index", fingerprint_settings(int(points))), qcfg)
    with open(queries / "queries.csv") as f:
        reader = csv.DictReader(f)
        rows = list(reader)[::every]
    scored = out / "queries.csv"   # the clips matched: the scorer counts a missing row as a miss
    with open(scored, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=reader.fieldnames)
        w.writeheader()
        w.writerows(rows)
    clips = [queries / r["wav"] for r in rows]
    m.identify_file(clips[0])  # first call pays imports and caches; not a clip's cost
    echo(f"matching {len(clips)} clips (threshold {qcfg.threshold})")
    times, tops = predict(m, clips, out / "predictions.csv", echo=echo)
    echo(f"median {1000 * np.median(times):.1f} ms per clip, p95 {1000 * np.percentile(times, 95):.1f} ms; "
         f"peak memory {_peak_rss_mib():.0f} MiB")
    negative = [t for r, t in zip(rows, tops) if r["kind"] == "neg"]
    if negative:
        best = max(negative)
        click.echo(f"highest score of any non-catalog clip, reported or not: {best:.2f} "
                   f"(margin {qcfg.threshold - best:.2f} under the threshold {qcfg.threshold})")
    run_scorer(["--queries", str(scored), "--corpus", str(corpus),
                "--pred", f"earwitness={out / 'predictions.csv'}", "--meta", f"earwitness={meta_path}",
                "--md", str(out / "score.md"), "--json", str(out / "score.json")])
    if extended:
        _extended(m, bench_dir, out, echo)


EXTENDED = {"pitch_up3": Disguise("pitch", 3.0), "pitch_down3": Disguise("pitch", -3.0),
            "speed_up20": Disguise("speed", 1.2), "speed_down20": Disguise("speed", 0.8),
            "tempo_up20": Disguise("tempo", 1.2), "tempo_down20": Disguise("tempo", 0.8)}


def _extended(m: Matcher, bench_dir: Path, out: Path, echo) -> None:
    """Clips past the stated range, cut from the same positives' sources: where does it break?"""
    with open(bench_dir / "queries" / "queries.csv") as f:
        pos = [r for r in csv.DictReader(f) if r["kind"] == "pos" and r["distortion"] == "clean"]
    with open(bench_dir / "corpus" / "manifest.csv") as f:
        wavs = {r["track_id"]: bench_dir / "corpus" / r["wav"] for r in csv.DictReader(f)}
    work = out / "extended"
    work.mkdir(exist_ok=True)
    rows = []
    for r in pos:
        for name, disguise in EXTENDED.items():
            dst = work / f"{r['query_id']}_{name}.wav"
            if not dst.exists():
                subprocess.run(["sox", "-V1", str(wavs[r["track_id"]]), str(dst), "trim", r["offset_s"],
                                str(disguise.source_seconds(float(r["length_s"])))] + disguise.sox_effect(),
                               check=True)
            res = m.identify_file(dst)
            ok = res.match is not None and res.match.work_id == r["track_id"]
            rows.append((name, r["length_s"], ok))
    echo("past the stated range (top-1, clips cut from the same 80 clean positives):")
    click.echo("| disguise | 5 s | 10 s |\n|---|---|---|")
    for name in EXTENDED:
        cells = []
        for length in ("5.0", "10.0"):
            sel = [ok for n, L, ok in rows if n == name and L == length]
            cells.append(f"{100 * sum(sel) / max(1, len(sel)):.0f} % of {len(sel)}")
        click.echo(f"| {name} | {cells[0]} | {cells[1]} |")


@click.command()
@click.option("--sizes", default="100,1000,10000", show_default=True, help="Catalog sizes (tracks).")
@click.option("--track-s", type=float, default=12.0, show_default=True, help="Seconds per generated track.")
@click.option("--queries", "n_queries", type=int, default=100, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-out/scale"), show_default=True)
def scale(sizes: str, track_s: float, n_queries: int, out: Path) -> None:
    """Query time and index size as the catalog grows (generated music; 5 s noisy clips, search time only)."""
    from fixtures.music import synthesize
    from matchers.fingerprint import fingerprint_samples
    out.mkdir(parents=True, exist_ok=True)
    targets = sorted(int(s) for s in sizes.split(","))
    shutil.rmtree(out / "index", ignore_errors=True)
    index = FingerprintIndex.open(out / "index", DEFAULT, create=True)
    rng = np.random.default_rng(7)
    sr = DEFAULT.sample_rate
    made = 0
    click.echo("| tracks | audio hours | index MiB | MiB per hour | load s | median query ms | p95 query ms | top-1 | RSS MiB |")
    click.echo("|---|---|---|---|---|---|---|---|---|")
    for target in targets:
        batch = []
        while made < target:
            y = synthesize(100_000 + made, track_s, sr=sr)
            batch.append(fingerprint_samples(f"gen{made:05d}", y, DEFAULT))
            made += 1
            if len(batch) >= 500:
                index.add(batch)
                batch = []
        index.add(batch)
        index.compact()
        t0 = time.perf_counter()
        m = Matcher(FingerprintIndex.open(out / "index"), DEFAULT_QUERY)
        load_s = time.perf_counter() - t0
        times, correct = [], 0
        for q in range(n_queries):
            tid = int(rng.integers(0, made))
            y = synthesize(100_000 + tid, track_s, sr=sr)
            a = int(rng.uniform(0, track_s - 6) * sr)
            clip = y[a:a + 5 * sr] + 0.05 * rng.standard_normal(5 * sr).astype(np.float32)
            t = time.perf_counter()
            found = m.reported(clip)
            times.append(time.perf_counter() - t)
            correct += bool(found) and found[0].work_id == f"gen{tid:05d}"
        st = m.index.stats()
        click.echo(f"| {made} | {st['audio_hours']:.1f} | {st['disk_bytes'] / 2**20:.1f} | {st['disk_mib_per_hour']} | "
                   f"{load_s:.2f} | {1000 * np.median(times):.1f} | {1000 * np.percentile(times, 95):.1f} | "
                   f"{100 * correct / n_queries:.0f} % | {_peak_rss_mib():.0f} |")
