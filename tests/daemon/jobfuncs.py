"""Job functions for the daemon's tests: a tick, a failure, a slow resumable backlog."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import select

from earwitness.kernel import settings
from earwitness.kernel.store.models import Clip, utcnow


def tick(label: str = "tick") -> dict:
    """Append a line to <home>/ticks.txt (what ran, in which order)."""
    path = settings.get().path("ticks.txt")
    with path.open("a") as fh:
        fh.write(f"{label} {os.getpid()}\n")
    return {"label": label}


def fail() -> None:
    raise RuntimeError("this job always fails")


def slow_backlog(store, delay_s: float = 0.3, stop=None) -> dict:
    """Work through 'fetched' clips one commit at a time (like matching); stops between items.

    Each clip's ``extra["done"]`` counts how often it was processed, so a test
    can see that nothing was done twice after a kill and a restart.
    """
    done = 0
    marker = settings.get().path("slow.running")
    marker.write_text(str(os.getpid()))
    try:
        while True:
            if stop is not None and stop.is_set():
                return {"done": done, "stopped": True}
            with store.session() as s:
                clip = s.scalars(select(Clip).where(Clip.status == "fetched").order_by(Clip.id).limit(1)).first()
                if clip is None:
                    return {"done": done}
                time.sleep(delay_s)               # the work, inside the unit of work
                clip.extra = {**(clip.extra or {}), "done": (clip.extra or {}).get("done", 0) + 1}
                clip.status = "matched"
                clip.matched_at = utcnow()
            done += 1
    finally:
        marker.unlink(missing_ok=True)


def wait_for(path: Path, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > end:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)
