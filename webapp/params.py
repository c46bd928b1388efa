"""Query-string values read strictly: an odd value is a 400 naming the parameter, never a 500.

Each reader records what it could not use; :meth:`Params.raise_errors` answers
400 with every problem at once. Numbers must be finite and inside bounds the
database can hold; dates must lie in years the app can add a day to.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Iterable

from flask import abort

MAX_PAGE = 100_000
MAX_TEXT = 200
FIRST_YEAR, LAST_YEAR = 2000, 2999


class Params:
    """Typed access to ``args`` (a request's query), collecting errors instead of failing."""

    def __init__(self, args) -> None:
        self._args = args
        self.errors: list[str] = []
        self._kept: dict[str, str] = {}

    def _raw(self, key: str) -> str:
        return (self._args.get(key) or "").strip()

    def _keep(self, key: str, value) -> None:
        if value not in (None, ""):
            self._kept[key] = value if isinstance(value, str) else (
                value.isoformat() if isinstance(value, date) else "%g" % value)

    def text(self, key: str, *, max_len: int = MAX_TEXT) -> str | None:
        raw = self._raw(key)
        if len(raw) > max_len:
            self.errors.append(f"{key}: longer than {max_len} characters")
            return None
        if any(ord(c) < 32 for c in raw):
            self.errors.append(f"{key}: control characters are not allowed")
            return None
        self._keep(key, raw)
        return raw or None

    def number(self, key: str, *, lo: float = -1e12, hi: float = 1e12) -> float | None:
        raw = self._raw(key)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.errors.append(f"{key}: {raw[:40]!r} is not a number")
            return None
        if not math.isfinite(value) or not lo <= value <= hi:
            self.errors.append(f"{key}: {raw[:40]!r} is outside {lo:g} to {hi:g}")
            return None
        self._keep(key, value)
        return value

    def integer(self, key: str, *, lo: int, hi: int, default: int | None = None) -> int | None:
        raw = self._raw(key)
        if not raw:
            return default
        if not raw.isdigit() or len(raw) > 12:
            self.errors.append(f"{key}: {raw[:40]!r} is not a whole number from {lo} to {hi}")
            return default
        value = int(raw)
        if not lo <= value <= hi:
            self.errors.append(f"{key}: {value} is outside {lo} to {hi}")
            return default
        return value

    def page(self) -> int:
        """The 1-based page number (not kept in :meth:`args`: pager links set it)."""
        return self.integer("page", lo=1, hi=MAX_PAGE, default=1) or 1

    def day(self, key: str) -> date | None:
        raw = self._raw(key)
        if not raw:
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            self.errors.append(f"{key}: {raw[:40]!r} is not a date (YYYY-MM-DD)")
            return None
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            self.errors.append(f"{key}: {raw} is outside the years {FIRST_YEAR}-{LAST_YEAR}")
            return None
        self._keep(key, value)
        return value

    def choice(self, key: str, options: Iterable[str], *, default: str) -> str:
        options = list(options)
        raw = self._raw(key)
        if not raw:
            return default
        if raw not in options:
            shown = ", ".join(o for o in options if o) or "(none)"
            self.errors.append(f"{key}: {raw[:40]!r} is not one of {shown}")
            return default
        if raw != default:
            self._keep(key, raw)
        return raw

    def flag(self, key: str) -> bool:
        raw = self._raw(key)
        if raw not in ("", "0", "1"):
            self.errors.append(f"{key}: {raw[:40]!r} must be 0 or 1")
            return False
        if raw == "1":
            self._keep(key, "1")
        return raw == "1"

    def args(self) -> dict[str, str]:
        """The accepted values, for links that keep the same filters."""
        return dict(self._kept)

    def raise_errors(self) -> None:
        """Answer 400 naming every bad value, if there was one."""
        if self.errors:
            abort(400, "Bad query: " + "; ".join(self.errors) + ".")
