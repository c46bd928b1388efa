"""The predictions CSV of ``earwitness match --batch`` and the benchmark: one format, one writer.

Columns are the public scorer's (``query_id,pred_track_id,score,pred_offset_s,query_s``)
followed by the transform and the error of an unreadable file. An empty
``pred_track_id`` means no match at or above the threshold.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

from matchers.match import QueryResult

COLUMNS = ("query_id", "pred_track_id", "score", "pred_offset_s", "query_s", "pitch_semitones", "tempo_ratio",
           "error")


class PredictionsWriter:
    """Writes one row per query result to an open text file."""

    def __init__(self, handle: IO[str]) -> None:
        self._csv = csv.writer(handle)
        self._csv.writerow(COLUMNS)

    def write(self, query_id: str, res: QueryResult) -> None:
        m = res.match
        self._csv.writerow([query_id, m.work_id if m else "", f"{m.score:.3f}" if m else "",
                            f"{m.ref_offset_s:.3f}" if m else "", f"{res.query_s:.4f}",
                            f"{m.pitch_semitones:.3f}" if m else "", f"{m.tempo_ratio:.4f}" if m else "",
                            res.error or ""])


def query_id(path: str | Path) -> str:
    """A clip's id in the predictions: its file name without the extension."""
    return Path(path).stem
