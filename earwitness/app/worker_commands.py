"""``earwitness workers``: processes that scale out past one machine (glue only)."""

from __future__ import annotations

import click


@click.group()
def workers():
    """Worker processes: matcher workers consuming the match queue (docs/deploy.md)."""


@workers.command("match")
@click.option("--broker", "broker_url", help="Redis URL of the queue (default: workers.broker_url).")
def match(broker_url):
    """Match stored clips from the queue until stopped (SIGTERM lets the clip in hand finish).

    Run one per core; crawls enqueue clips when workers.match_mode is 'queue'.
    """
    from earwitness.app.match_queue import serve
    serve(broker_url)
