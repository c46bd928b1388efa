"""``earwitness bench``: the benchmark commands; each stage owns its own.

Benchmarks print measured numbers (accuracy, false alarms, latency, throughput,
memory); the README's tables come from their output.
"""

import click

from earwitness.app.cli import LazyGroup

BENCHMARKS = {
    "matcher": "earwitness.app.matcher_bench:matcher",
    "scale": "earwitness.app.scale_bench:scale",
    "crawl": "earwitness.app.crawl_bench:crawl",
    "workers": "earwitness.app.worker_bench:workers",
}


class _BenchGroup(LazyGroup):
    commands_map = BENCHMARKS


@click.group(cls=_BenchGroup)
def bench() -> None:
    """Measure the system: matcher accuracy and speed, catalog scale, crawl throughput."""
