"""One output convention for every command, whichever package owns it.

- A **list** command prints a table with a header row and each record's id (the count goes to
  stderr); ``--json`` prints one JSON array of objects; ``--format csv`` prints CSV with a header
  row of the same keys as the JSON objects (nested values as JSON text).
- A **show** command prints labelled lines; ``--json`` prints one JSON object.
- Commands that report as they go (``match``, ``catalog import``) print JSON Lines with ``--json``:
  one object per item, as it is done.

Numbers are printed without a negative zero. Lives in the kernel because every stage's command
module (notices, webapp, the application's) speaks it; it knows nothing of any record.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import click

FORMATS = ("table", "json", "csv")


@dataclass(frozen=True)
class Column:
    """A table column: the row key, its header, how to print a value (``str`` by default), and
    optionally ``of_row`` to compute the value from the whole row (the JSON and CSV keep the row as is)."""

    key: str
    header: str
    show: Callable[[Any], str] | None = None
    max_width: int | None = None
    of_row: Callable[[Mapping[str, Any]], Any] | None = None


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, never ``-0.00``; ``-`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def signed(value: float | None, digits: int = 1) -> str:
    """``value`` with an explicit sign (``+0.0`` for zero, never ``-0.0``)."""
    if value is None:
        return "-"
    text = f"{value:+.{digits}f}"
    return "+" + text[1:] if text.startswith("-") and float(text) == 0 else text


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value == 0:
        return 0.0          # no -0.0 in JSON either
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, indent=2, default=str)


def _cell(column: Column, row: Mapping[str, Any]) -> str:
    value = column.of_row(row) if column.of_row is not None else row.get(column.key)
    if column.show is not None:
        text = column.show(value)
    elif value is None:
        text = "-"
    elif isinstance(value, float):
        text = number(value)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    text = " ".join(text.split())
    if column.max_width and len(text) > column.max_width:
        text = text[:column.max_width - 1] + "…"
    return text


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Rows as aligned columns under a header row (the last column is never padded)."""
    cells = [[c.header.upper() for c in columns]] + [[_cell(c, r) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line[:-1], widths)) + "  " * (len(line) > 1) + line[-1]
                     for line in cells)


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (json.dumps(_plain(v), ensure_ascii=False) if isinstance(v, (dict, list, tuple))
                             else _plain(v)) for k, v in row.items()})
    return buf.getvalue().rstrip("\n")


def print_list(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str, *,
               noun: str = "record(s)") -> None:
    """Print a list command's records in ``fmt`` (table, json or csv)."""
    rows = list(rows)
    if fmt == "json":
        click.echo(to_json(rows))
    elif fmt == "csv":
        if rows:
            click.echo(to_csv(rows))
    else:
        if rows:
            click.echo(table(rows, columns))
        click.echo(f"{len(rows)} {noun}", err=True)


def print_show(doc: Mapping[str, Any], as_json: bool, lines: Callable[[], Iterable[str]]) -> None:
    """Print a show command's record: labelled ``lines()`` for people, or ``doc`` as one JSON object."""
    if as_json:
        click.echo(to_json(doc))
    else:
        for line in lines():
            click.echo(line)


def list_options(fn: Callable) -> Callable:
    """``--format table|json|csv`` and its shorthand ``--json``, passed to the command as ``fmt``."""
    @click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json (one JSON array).")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                  help="table for people; json (one array of objects) or csv for programs and spreadsheets.")
    @functools.wraps(fn)
    def wrapper(*args, as_json: bool, fmt: str, **kwargs):
        return fn(*args, fmt="json" if as_json else fmt, **kwargs)
    return wrapper


def show_options(fn: Callable) -> Callable:
    """``--json``: the record as one JSON object instead of lines for people."""
    return click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")(fn)
