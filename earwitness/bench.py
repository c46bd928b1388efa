"""``earwitness bench``: the benchmark commands; each stage owns its own.

Benchmarks print measured numbers (accuracy, false alarms, latency, throughput,
memory); the README's tables come from their output.
"""

import click

from earwitness.cli import LazyGroup

BENCHMARKS = {
    "matcher": "matchers.bench:matcher",
    "scale": "matchers.bench:scale",
    "crawl": "crawler.bench:crawl",
}


class _BenchGroup(LazyGroup):
    commands_map = BENCHMARKS


@click.group(cls=_BenchGroup)
def bench() -> None:
    """Measure the system: matcher accuracy and speed, catalog scale, crawl throughput."""
