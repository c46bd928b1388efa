"""Run one crawl in a child process with a timeout (Twisted's reactor cannot restart).

The daemon and the CLI call :func:`crawl_site`; the child is ``python -m
crawler.run`` which runs Scrapy's CrawlerProcess once and writes its report as
JSON. A child that outlives ``timeout_s`` is killed; everything it found and
stored is already in the store (the frontier), and the next crawl resumes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crawler import config, pauses
from crawler.errors import CrawlerError
from crawler.ingest import ClipSink
from earwitness.kernel import settings as ew_settings

log = logging.getLogger(__name__)


@dataclass
class CrawlReport:
    """What one crawl did. ``counts`` keys: listed, fetched, gone, rejected, failed, skipped,
    licensed, reused_audio, detections, layout_changed, errors, over_limit."""

    site: str
    ok: bool
    returncode: int | None = None
    timed_out: bool = False
    queries: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    work_ids: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    peak_rss_mb: float | None = None
    cpu_s: float | None = None           # user+sys of the child and its descendants (Chromium, ffmpeg)
    frontier: dict[str, int] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)   # works searched on this site lately (queries.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (a SIGKILLed daemon leaves no crawl behind).
    The crawl's frontier makes the next run resume where this one stopped."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the timeout still bounds the crawl


def crawl_site(site: str, *, query: str | list[str] | None = None, limit: int | None = None,
               timeout_s: float | None = None, render_js: bool | None = None,
               on_clip_stored: ClipSink | None = None,
               log_file: str | os.PathLike | None = None) -> CrawlReport:
    """Crawl ``site`` in a child process; returns its report (also after a timeout).

    ``query`` None means: the catalog's queries plus configured keywords. An empty
    string is a query too (on sites that list everything for it). ``on_clip_stored``
    is called in the child for every stored clip; it crosses the process boundary by
    name, so it must be a module-level function. ``None``: clips wait for the match backlog.
    """
    from crawler import frontier
    from earwitness.kernel.store import open_store
    from crawler.spiders import spider_for
    spider_for(config.load_site(site))  # a bad site name, YAML or a live-only platform fails here, in the caller
    pause = pauses.paused(site)
    if pause is not None:   # a site that answered with walls is left alone until its pause ends
        return CrawlReport(site=site, ok=False, errors=[
            f"site {site!r} is paused until {pause['until']} ({pause['state']}: {pause['reason']}); "
            f"`earwitness sites resume {site}` lifts it"], counts={"paused": 1})
    timeout_s = float(timeout_s or config.section()["crawl_timeout_s"])
    home = ew_settings.get().home
    with tempfile.NamedTemporaryFile("r", suffix=".json", prefix="crawl-report-", delete=False) as tmp:
        report_path = Path(tmp.name)
    cmd = [sys.executable, "-m", "crawler.run", "--site", site, "--report", str(report_path)]
    if query is not None:
        for q in [query] if isinstance(query, str) else query:
            cmd += ["--query", q]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    if render_js is not None:
        cmd += ["--render-js" if render_js else "--no-render-js"]
    if on_clip_stored is not None:
        cmd += ["--on-clip-stored", f"{on_clip_stored.__module__}:{on_clip_stored.__qualname__}"]
    env = dict(os.environ, EARWITNESS_HOME=str(home))
    logf = open(log_file, "a+b") if log_file else tempfile.TemporaryFile()
    t0 = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, env=env, stdout=logf, stderr=logf, start_new_session=True,
                            preexec_fn=_die_with_parent)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        logf.seek(0, os.SEEK_END)
        size = logf.tell()
        logf.seek(max(0, size - 4000))
        tail = logf.read().decode("utf-8", "replace").splitlines()
        logf.close()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    data: dict[str, Any] = {}
    if report_path.exists() and report_path.stat().st_size:
        try:
            data = json.loads(report_path.read_text())
        except ValueError:
            data = {}
    report_path.unlink(missing_ok=True)
    report = CrawlReport(site=site, ok=proc.returncode == 0 and not timed_out, returncode=proc.returncode,
                         timed_out=timed_out, elapsed_s=round(time.monotonic() - t0, 3),
                         peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
                         cpu_s=round(usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime, 2))
    for key in ("queries", "counts", "work_ids", "timings_s", "errors"):
        if key in data:
            setattr(report, key, data[key])
    listings, lost = report.counts.get("listings", 0), report.counts.get("listing_failed", 0)
    if report.ok and listings and lost >= listings:
        report.ok = False
        report.errors = [f"every listing failed ({lost} of {listings}): nothing was searched", *report.errors]
    if not report.ok and not report.errors:
        report.errors = [line for line in tail if "Error" in line or "error:" in line][-5:] or tail[-5:]
    report.frontier = frontier.counts(open_store(), site)
    from crawler import queries as site_queries
    report.coverage = site_queries.coverage(
        open_store(), site, days=float(config.section()["queries"]["coverage_days"]))
    pause = pauses.after_crawl(site, report.counts, retry_after_s=report.counts.get("retry_after_s"))
    if pause is not None:
        report.errors.append(f"site {site!r} paused until {pause['until']}: {pause['reason']}")
    return report


def _child(argv: list[str] | None = None) -> int:
    """The child: one Scrapy CrawlerProcess, one spider, report written at the end."""
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--site", required=True)
    parser.add_argument("--query", action="append")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--report")
    parser.add_argument("--render-js", dest="render_js", action="store_true", default=None)
    parser.add_argument("--no-render-js", dest="render_js", action="store_false")
    parser.add_argument("--on-clip-stored", metavar="MODULE:FUNCTION",
                        help="called with (store, clip_id) for every stored clip (the application's matcher)")
    args = parser.parse_args(argv)

    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.misc import load_object

    from crawler.queries import catalog_queries, record_run
    from crawler.settings import scrapy_settings
    from crawler.spiders import spider_for
    from earwitness.kernel.store import open_store

    site = config.load_site(args.site)
    store = open_store()
    queries = args.query if args.query is not None else catalog_queries(store, site=site.name)
    spider_cls = spider_for(site)
    process = CrawlerProcess(scrapy_settings(site))
    crawler = process.create_crawler(spider_cls)
    result: dict[str, Any] = {}

    def closed(spider, reason):
        result.update(spider.report())
        result["close_reason"] = reason
        if args.report:
            Path(args.report).write_text(json.dumps(result, indent=1))

    crawler.signals.connect(closed, signal=signals.spider_closed)
    on_clip_stored = load_object(args.on_clip_stored.replace(":", ".")) if args.on_clip_stored else None
    kwargs: dict[str, Any] = {"site": site, "queries": queries, "limit": args.limit,
                              "on_clip_stored": on_clip_stored}
    if args.render_js is not None:
        kwargs["render_js"] = args.render_js
    process.crawl(crawler, **kwargs)
    process.start()
    counts = result.get("counts") or {}
    if result.get("close_reason") == "finished" and not (
            counts.get("listings") and counts.get("listing_failed", 0) >= counts["listings"]):
        record_run(site.name, queries)   # the rotation moves on only past queries that were searched
    return 0 if result.get("close_reason") == "finished" else 1


if __name__ == "__main__":
    try:
        sys.exit(_child())
    except CrawlerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
