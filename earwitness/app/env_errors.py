"""Failures of the environment said in one line a person can act on: a full disk, a read-only data
home, a store that cannot be written or reached.

Whatever command or job hit it, the cause is the same and so is the fix, so the CLI (for every
command) and the daemon's run history use this one wording: what happened, the path, what to do.
The exception chain is searched (a stage's own error raised ``from`` an ``OSError`` is the same
full disk), so a wrapped cause is still named.
"""

from __future__ import annotations

import errno
from typing import Iterator

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _store_name() -> str:
    """The store's file (SQLite) or its URL without the password, for the message."""
    try:
        from earwitness.kernel import settings
        url = settings.get().store_url
    except Exception:  # noqa: BLE001 - settings may be what failed; the message still stands
        return "the store"
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "the store"


def _no_space_left() -> bool:
    """Whether the store's file system (SQLite) has no room left: under one 64 KiB page run."""
    import shutil
    from pathlib import Path
    name = _store_name()
    if not name.startswith("/"):
        return False
    folder = Path(name).parent
    try:
        return shutil.disk_usage(folder).free < 65536
    except OSError:
        return False


def _home() -> str:
    try:
        from earwitness.kernel import settings
        return str(settings.get().home)
    except Exception:  # noqa: BLE001
        return "the data home"


def _os_line(exc: OSError) -> str | None:
    where = exc.filename or _home()
    if exc.errno in DISK_FULL:
        return (f"disk full ({exc.strerror or 'No space left on device'}): cannot write {where}; "
                f"free space there and run again")
    if exc.errno in NOT_WRITABLE:
        what = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
        return (f"{what}: cannot write {where}; make the data home writable "
                f"(or point EARWITNESS_HOME / --home at one that is) and run again")
    return None


def _store_line(text: str) -> str | None:
    low = text.lower()
    first = text.strip().splitlines()[0] if text.strip() else text
    if "disk is full" in low or "no space" in low:
        return f"disk full: the store cannot write {_store_name()} ({first}); free space and run again"
    if "disk i/o error" in low:   # SQLite's word for a failed write: a full disk, or a failing one
        if _no_space_left():
            return f"disk full: the store cannot write {_store_name()} ({first}); free space and run again"
        return (f"the store cannot be written: {_store_name()} ({first}); check the disk it is on "
                f"and run again")
    if "readonly" in low or "read-only" in low or "unable to open database" in low:
        return (f"the store cannot be written: {_store_name()} ({first}); make the data home writable "
                f"and run again")
    if "connect" in low or "refused" in low or "could not translate host" in low or "timeout" in low:
        return (f"the store is unreachable ({first}); check store_url and that the "
                f"database server is running")
    return None


def one_line(exc: BaseException) -> str | None:
    """The one line for ``exc`` (or a cause in its chain), or None when it is not the environment's."""
    from sqlalchemy.exc import OperationalError
    for err in _chain(exc):
        if isinstance(err, OSError):
            line = _os_line(err)
            if line:
                return line
        if isinstance(err, OperationalError):
            line = _store_line(str(err.orig) if err.orig is not None else str(err))
            if line:
                return line
        if type(err).__name__ == "OperationalError":   # the DB-API's own (sqlite3, psycopg), unwrapped
            line = _store_line(str(err))
            if line:
                return line
    return None
