"""Progress bars for long steps (import, batch match, index rebuild, crawl, live sampling, demo).

Drawn with rich on stderr, only when stderr is a terminal and ``-q`` was not given, so pipes,
files, CI logs and tests see the command's output and nothing else. A step with a known total
gets a bar with a count and an ETA; one without (a crawl in its child process) gets a spinner
with the elapsed time and whatever count it can report.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    """``-q``: no progress bars at all (the CLI's global option)."""
    global _quiet
    _quiet = quiet


def enabled() -> bool:
    return not _quiet and sys.stderr.isatty()


class Bar:
    """One step's progress; every method is a no-op when bars are off."""

    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def advance(self, n: int = 1, *, note: str | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=n, **({"note": note} if note is not None else {}))

    def update(self, *, completed: int | None = None, total: int | None = None, note: str | None = None) -> None:
        if self._progress is not None:
            fields = {k: v for k, v in (("completed", completed), ("total", total)) if v is not None}
            self._progress.update(self._task, **fields, **({"note": note} if note is not None else {}))

    def log(self, text: str) -> None:
        """A line printed above the bar (or plainly to stderr when bars are off)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr)


@contextmanager
def bar(description: str, total: int | None = None) -> Iterator[Bar]:
    """A progress bar for one step, removed from the screen when the step ends."""
    if not enabled():
        yield Bar(None, None)
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    columns += [TimeElapsedColumn(), TextColumn("{task.fields[note]}")]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield Bar(progress, progress.add_task(description, total=total, note=""))


def while_running(description: str, work: Callable[[], T], *, note: Callable[[], str] | None = None,
                  every_s: float = 1.0) -> T:
    """Run ``work()`` (a step that cannot report its own progress, such as a crawl in its child
    process) under a spinner whose note is refreshed from ``note()`` every ``every_s`` seconds."""
    if not enabled():
        return work()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="earwitness-step", daemon=True)
    with bar(description) as b:
        thread.start()
        while thread.is_alive():
            thread.join(every_s)
            if note is not None:
                try:
                    b.update(note=note())
                except Exception:  # noqa: BLE001 - a note that cannot be read is not worth failing the step
                    pass
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
