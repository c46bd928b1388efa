"""The daemon's log lines: plain text or JSON lines, to stderr (the journal under systemd) or a file.

Every line carries the context it was written in (``job``, ``site``, ``run`` and any ids bound
with :func:`context`), so a line about a failed fetch names the job and site it belongs to. A
context is a ``contextvars`` value: it follows the job's thread and is gone when the job ends.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

FORMATS = ("plain", "json")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("earwitness_log_context", default={})


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (job, site, run, clip_id, ...) to every log line written inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (``record.ctx``), for either formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = dict(_context.get())
        return True


class PlainFormatter(logging.Formatter):
    """``time level logger: message  (job=... site=...)``; without the time under systemd (the journal adds it)."""

    def __init__(self, with_time: bool = True) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s" if with_time
                         else "%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx = getattr(record, "ctx", None)
        return text + ("  (" + " ".join(f"{k}={v}" for k, v in ctx.items()) + ")" if ctx else "")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, the context, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
            **getattr(record, "ctx", {}),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure(*, level: int, fmt: str = "plain", file: str | None = None, journal: bool = False) -> None:
    """Send the process's log records to ``file`` (appended) or stderr, as ``fmt`` lines."""
    handler: logging.Handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter(with_time=not journal))
    handler.addFilter(ContextFilter())
    handler.earwitness = True   # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in list(root.handlers):   # ours from before, and the plain one of logging.basicConfig
        if getattr(old, "earwitness", False) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
            old.close()     # a FileHandler closes its file; a StreamHandler leaves stderr open
    root.addHandler(handler)
    root.setLevel(level)


def reset() -> None:
    """Take this module's handler off the root logger again (tests, and a CLI run inside another program)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "earwitness", False)]:
        root.removeHandler(old)
        old.close()
