"""``earwitness bench scale``: the public bench's queries against catalogs of up to 100 000 works.

One pass builds every index: the public corpus's 105 real catalog tracks first, then
synthetic distractor works of 3 minutes or more (``scale_peaks``: peak streams with the
rate, timing and frequency distribution measured on those real tracks), streamed into
one sharded index per (catalog size, shard count) by ``matchers.index_build`` (sorted
runs spilled to disk, memory-mapped arrays; memory stays flat whatever the size).
Each index is then queried in a fresh process with a stratified sample of the public
bench's clips (every distortion and length, positives and negatives), and the
project's scorer (``shared/bench/score.py``) scores the predictions.

Reported per index: top-1, wrong works, false alarms, median and p95 query time
(decoding included, as in ``bench matcher``), build time (the index writer's own time;
the distractor synthesis is reported apart, since a real build decodes audio instead),
bytes on disk, the load time, and memory (peak RSS, which counts the index pages the
queries touched, and the private memory).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import click
import numpy as np

from earwitness.app.matcher_bench import fingerprint_settings, query_settings, run_scorer
from earwitness.app.scale_peaks import PeakModel
from matchers.config import FingerprintConfig
from matchers.fingerprint import fingerprint_file
from matchers.index_build import ShardedIndexWriter
from matchers.shards import ShardedIndex

BENCH_DIR = Path(os.environ.get("EARWITNESS_BENCH_DIR", "/tmp/earwitness-bench"))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sample_queries(rows: list[dict], per_cell: int) -> list[dict]:
    """The first ``per_cell`` clips of each (kind, distortion, length) cell, by query id: every cell, stable."""
    cells: dict[tuple, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["query_id"]):
        cells.setdefault((r["kind"], r["distortion"], r["length_s"]), []).append(r)
    return [r for cell in cells.values() for r in cell[:per_cell]]


class _TimedWriter:
    """A ShardedIndexWriter whose own time (adds and finish) is counted."""

    def __init__(self, path: Path, n_shards: int, cfg: FingerprintConfig) -> None:
        self.path, self.n_shards, self.seconds = path, n_shards, 0.0
        self.writer = ShardedIndexWriter(path, cfg, n_shards)

    def add(self, fp) -> None:
        t = time.perf_counter()
        self.writer.add(fp)
        self.seconds += time.perf_counter() - t

    def finish(self) -> None:
        t = time.perf_counter()
        self.writer.finish()
        self.seconds += time.perf_counter() - t


def _query_index(index_path: str, clips: list[str], pred_csv: str, points: int, max_bucket: int | None) -> dict:
    """Run in a fresh process: open the index, match every clip, write predictions; times and memory."""
    from matchers.match import Matcher
    from matchers.predictions import PredictionsWriter, query_id
    t = time.perf_counter()
    index = ShardedIndex.open(index_path, fingerprint_settings(points))
    qcfg = query_settings(points, max_bucket)
    matcher = Matcher(index, qcfg)
    load_s = time.perf_counter() - t
    matcher.identify_file(clips[0])  # the first call pays imports and caches, not a clip's cost
    times = []
    with open(pred_csv, "w", newline="") as f:
        w = PredictionsWriter(f)
        for clip in clips:
            res = matcher.identify_file(clip)
            times.append(res.query_s)
            w.write(query_id(clip), res)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kib = lambda k: int(status[k].split()[0]) / 1024  # noqa: E731
    return {"load_s": round(load_s, 2), "median_ms": round(1000 * float(np.median(times)), 1),
            "p95_ms": round(1000 * float(np.percentile(times, 95)), 1), "peak_rss_mib": round(kib("VmHWM")),
            "private_mib": round(kib("RssAnon")), "clips": len(times)}


@click.command()
@click.option("--bench-dir", type=click.Path(path_type=Path), default=BENCH_DIR, show_default=True,
              help="Where shared/bench wrote corpus/ and queries/.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-out/scale"), show_default=True,
              help="Indexes and results (about 15 GB per 100 000 works and shard count).")
@click.option("--sizes", default="1000,10000,100000", show_default=True,
              help="Catalog sizes in works, the 105 real tracks included.")
@click.option("--shards", "shard_counts", default="1,4", show_default=True, help="Shard counts to build each size at.")
@click.option("--min-s", type=float, default=180.0, show_default=True, help="Shortest distractor, seconds.")
@click.option("--max-s", type=float, default=200.0, show_default=True, help="Longest distractor, seconds.")
@click.option("--per-cell", type=int, default=5, show_default=True,
              help="Public-bench clips per (kind, distortion, length) cell; 0: every clip.")
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--reuse", is_flag=True, help="Query indexes already built under OUT instead of building them.")
@click.option("--points", type=click.Choice(["3", "4"]), default="3", show_default=True,
              help="Key family: 3 (triplets, the shipped one) or 4 (quads, for large catalogs).")
@click.option("--max-bucket", type=int, default=None,
              help="Query with this stop-word limit instead of the configured one (keys holding more entries are skipped).")
def scale(bench_dir: Path, out: Path, sizes: str, shard_counts: str, min_s: float, max_s: float, per_cell: int,
          seed: int, reuse: bool, points: str, max_bucket: int | None) -> None:
    """Top-1, false alarms, query time, build time, disk and memory at 100 000 works and smaller, 1 and 4 shards."""
    if min_s < 180:
        raise click.BadParameter("distractors must last 3 minutes or more", param_hint="--min-s")
    corpus, queries_dir = bench_dir / "corpus", bench_dir / "queries"
    if not (corpus / "manifest.csv").exists() or not (queries_dir / "queries.csv").exists():
        raise click.ClickException(f"no public benchmark at {bench_dir}: run shared/bench/make_corpus.py and "
                                   "make_queries.py first (see shared/bench/README.md)")
    echo = lambda s: click.echo(s, err=True)  # noqa: E731
    out.mkdir(parents=True, exist_ok=True)
    targets = sorted(int(s) for s in sizes.split(","))
    counts = sorted(int(s) for s in shard_counts.split(","))
    echo(f"load average at start: {_load()} ({os.cpu_count()} cores)")
    cfg = fingerprint_settings(int(points))

    paths = {(n, k): out / f"index-{n}-x{k}" for n in targets for k in counts}
    if reuse and all((p / "shards.json").exists() for p in paths.values()) and (out / "build.json").exists():
        build = json.loads((out / "build.json").read_text())
        echo(f"reusing the indexes under {out}")
    else:
        with open(corpus / "manifest.csv") as f:
            real_rows = [r for r in csv.DictReader(f) if r["set"] == "catalog"]
        t = time.perf_counter()
        real = [fingerprint_file(r["track_id"], corpus / r["wav"], cfg) for r in real_rows]
        echo(f"fingerprinted {len(real)} real catalog tracks in {time.perf_counter() - t:.1f} s")
        if targets[0] <= len(real):
            raise click.BadParameter(f"the smallest size must hold more than the {len(real)} real tracks",
                                     param_hint="--sizes")
        build = _build(paths, real, PeakModel.measure(real, cfg), targets, seed, min_s, max_s, cfg, echo)
        (out / "build.json").write_text(json.dumps(build, indent=1))
    echo(build["model"])

    with open(queries_dir / "queries.csv") as f:
        all_rows = list(csv.DictReader(f))
    rows = sample_queries(all_rows, per_cell) if per_cell else all_rows
    subset = out / "queries.csv"
    with open(subset, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(all_rows[0]))
        w.writeheader()
        w.writerows(rows)
    clips = [str(queries_dir / r["wav"]) for r in rows]
    qcfg = query_settings(cfg.points, max_bucket)
    echo(f"key family: {'triplets' if cfg.points == 3 else 'quads'}; query settings: max_bucket {qcfg.max_bucket}, "
         f"neighbours {qcfg.neighbours}, background neighbours {qcfg.background_neighbours}, threshold {qcfg.threshold}")
    echo(f"{len(rows)} public-bench clips ({sum(r['kind'] == 'pos' for r in rows)} positives), "
         f"{per_cell or 'all'} per (kind, distortion, length) cell")

    tag = f"-mb{max_bucket}" if max_bucket is not None else ""
    results = {}
    for (n, k), path in paths.items():
        echo(f"querying {n} works x {k} shard(s) (load {_load()})")
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results[(n, k)] = pool.submit(_query_index, str(path), clips, str(out / f"pred-{n}-x{k}{tag}.csv"),
                                           cfg.points, max_bucket).result()
        echo(f"  {results[(n, k)]}")
    preds = [f"n{n}x{k}={out / f'pred-{n}-x{k}{tag}.csv'}" for n, k in paths]
    scored = out / f"score{tag}.json"
    run_scorer(["--queries", str(subset), "--corpus", str(corpus), "--json", str(scored),
                *sum((["--pred", p] for p in preds), [])], stdout=subprocess.DEVNULL)
    scores = json.loads(scored.read_text())
    table = _table(paths, build, results, scores, len(rows))
    (out / f"scale{tag}.md").write_text(table)
    (out / f"scale{tag}.json").write_text(json.dumps({"build": build, "query": {f"{n}x{k}": r for (n, k), r in results.items()},
                                                "score": scores}, indent=1))
    click.echo(table)
    echo(f"load average at end: {_load()}")


def _build(paths: dict, real: list, model: PeakModel, targets: list[int], seed: int, min_s: float, max_s: float,
           cfg: FingerprintConfig, echo) -> dict:
    for p in paths.values():
        shutil.rmtree(p, ignore_errors=True)
    writers = {key: _TimedWriter(p, key[1], cfg) for key, p in paths.items()}
    synth_s, made, syn_peaks, syn_hashes, hours = 0.0, 0, 0, 0, {n: 0.0 for n in targets}
    started = time.perf_counter()

    def feed(fp, position: int) -> None:
        for (n, _), w in writers.items():
            if position < n:
                w.add(fp)
        for n in targets:
            if position < n:
                hours[n] += fp.duration_s / 3600

    for fp in real:
        feed(fp, made)
        made += 1
    works = model.works_from(0, targets[-1] - len(real), cfg, seed=seed, min_s=min_s, max_s=max_s)
    while made < targets[-1]:
        t = time.perf_counter()
        fp = next(works)
        synth_s += time.perf_counter() - t
        syn_peaks += len(fp.peaks)
        syn_hashes += len(fp.keys)
        feed(fp, made)
        made += 1
        if made in targets:
            for (n, k), w in writers.items():
                if n == made:
                    w.finish()
                    echo(f"  built {n} works x {k} shard(s): writer {w.seconds:.0f} s (load {_load()})")
        elif made % 10_000 == 0:
            echo(f"  {made} works, {time.perf_counter() - started:.0f} s (load {_load()})")
    return {"model": model.describe(syn_hashes / max(1, syn_peaks)), "synthesis_s": round(synth_s, 1),
            "writer_s": {f"{n}x{k}": round(w.seconds, 1) for (n, k), w in writers.items()},
            "hours": {str(n): round(h, 1) for n, h in hours.items()},
            "disk_bytes": {f"{n}x{k}": _disk(p) for (n, k), p in paths.items()},
            "wall_s": round(time.perf_counter() - started, 1)}


def _disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _table(paths: dict, build: dict, results: dict, scores: dict, n_clips: int) -> str:
    lines = ["| works | audio hours | shards | top-1 | wrong work | false alarms | median query ms | p95 query ms "
             "| build s (writer) | disk GiB | load s | peak RSS MiB | private MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, k in paths:
        key, s, r = f"{n}x{k}", scores[f"n{n}x{k}"], results[(n, k)]
        lines.append(f"| {n:,} | {build['hours'][str(n)]:,.0f} | {k} | {s['top1_pct']} % | {s['wrong_track']} | "
                     f"{s['fp']} of {s['negatives']} | {r['median_ms']} | {r['p95_ms']} | {build['writer_s'][key]:.0f} | "
                     f"{build['disk_bytes'][key] / 2**30:.2f} | {r['load_s']} | {r['peak_rss_mib']} | {r['private_mib']} |")
    lines.append("")
    sizes, counts = sorted({n for n, _ in paths}), sorted({k for _, k in paths})
    for k in counts:
        growth = results[(sizes[-1], k)]["median_ms"] / results[(sizes[0], k)]["median_ms"]
        lines.append(f"{k} shard(s): catalog x{sizes[-1] / sizes[0]:.0f} ({sizes[0]:,} -> {sizes[-1]:,} works), "
                     f"median query time x{growth:.2f}.")
    lines.append(f"{n_clips} public-bench clips per index. Distractor synthesis took {build['synthesis_s']:.0f} s "
                 f"(not counted in the writers' build time); the whole build {build['wall_s']:.0f} s wall.")
    return "\n".join(lines) + "\n"
