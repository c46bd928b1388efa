"""``earwitness bench crawl``: clips per minute end to end on the fixture platform, and peak memory.

Each round starts from an empty data home with the platform's catalog imported
(not timed), then times one crawl of every video on the platform: discover
(Chromium renders the JS search page), fetch (Chromium renders each item page
for screenshot + HTML; yt-dlp extracts and downloads), decode (ffmpeg), match,
store. Clips per minute = clips stored / wall time of the crawl, child process
start and browser launch included.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from pathlib import Path

import click


@click.command("crawl")
@click.option("--rounds", default=3, show_default=True, help="Crawls, each from an empty data home.")
@click.option("--platform-root", type=click.Path(file_okay=False), help="A built fixture platform "
              "(default: build one under the system temp folder).")
@click.option("--json", "as_json", is_flag=True)
def crawl(rounds, platform_root, as_json):
    """Crawl throughput (clips/min) and peak memory on the local fixture platform."""
    from earwitness.kernel import settings
    from fixtures.build import build
    from fixtures.platform import serve

    root = build(Path(platform_root) if platform_root else Path(tempfile.gettempdir()) / "earwitness-bench-platform")
    server = serve(port=0, root=root, build=False)
    results = []
    saved_env = {k: os.environ.get(k) for k in ("EARWITNESS_HOME", "EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL")}
    try:
        for i in range(rounds):
            server.reset()
            with tempfile.TemporaryDirectory(prefix="earwitness-bench-") as home:
                os.environ["EARWITNESS_HOME"] = home
                os.environ["EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL"] = server.url
                settings.configure(home)
                from earwitness.app.catalog import import_manifest
                from earwitness.kernel.store import open_store
                store = open_store()
                import_manifest(store, root / "catalog" / "manifest.csv")
                from crawler.run import crawl_site
                from earwitness.app.matching import match_stored_clip
                t0 = time.perf_counter()
                rep = crawl_site("fixture", query="", timeout_s=600, on_clip_stored=match_stored_clip)
                wall = time.perf_counter() - t0
                store.dispose()
                clips = rep.counts.get("fetched", 0)
                results.append({"round": i + 1, "ok": rep.ok, "clips": clips, "gone": rep.counts.get("gone", 0),
                                "detections": rep.counts.get("detections", 0), "wall_s": round(wall, 2),
                                "cpu_s": rep.cpu_s,
                                "clips_per_min": round(clips / wall * 60, 1), "stage_s": rep.timings_s,
                                "counts": rep.counts, "errors": rep.errors[-5:]})
                if not as_json:
                    click.echo(f"round {i + 1}: {clips} clips ({rep.counts.get('detections', 0)} detections) "
                               f"in {wall:.1f}s = {clips / wall * 60:.1f} clips/min")
    finally:
        server.close()
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        settings.configure(saved_env["EARWITNESS_HOME"])
    total_clips = sum(r["clips"] for r in results)
    total_wall = sum(r["wall_s"] for r in results)
    stages: dict[str, float] = {}
    for r in results:
        for k, v in r["stage_s"].items():
            stages[k] = stages.get(k, 0.0) + v
    total_cpu = sum(r["cpu_s"] or 0 for r in results)
    summary = {
        "cpus": os.cpu_count(), "rounds": results, "clips": total_clips, "wall_s": round(total_wall, 2),
        "clips_per_min": round(total_clips / total_wall * 60, 1) if total_wall else 0.0,
        "cpu_s_per_clip": round(total_cpu / max(total_clips, 1), 3),
        # what two fully available cores could sustain at this CPU cost per clip
        "clips_per_min_2_cores_cpu_bound": (round(2 * 60 / (total_cpu / total_clips), 1)
                                            if total_cpu and total_clips else None),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "peak_rss_mb_crawl_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "peak_rss_mb_bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # worker-thread seconds per clip in each stage (threads overlap, so these add up to more than wall)
        "stage_s_per_clip": {k: round(v / max(total_clips, 1), 3) for k, v in sorted(stages.items())},
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"{summary['clips_per_min']} clips/min over {total_clips} clips on {summary['cpus']} CPUs "
                   f"(load average {summary['load_average_1m_at_end']}); {summary['cpu_s_per_clip']} CPU-s a clip "
                   f"= {summary['clips_per_min_2_cores_cpu_bound']} clips/min on 2 free cores; "
                   f"peak RSS crawl child {summary['peak_rss_mb_crawl_child']} MB "
                   "(largest process: Python crawl child; Chromium's processes are children of it)")
        click.echo("per clip, worker-thread seconds: " + ", ".join(f"{k} {v}s" for k, v in
                                                                  summary["stage_s_per_clip"].items()))
