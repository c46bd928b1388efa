"""The predictions CSV of ``earwitness match --batch`` and the benchmark: one format, one writer.

Columns are the public scorer's (``query_id,pred_track_id,score,pred_offset_s,query_s``;
``pred_offset_s`` is where the clip's first sample falls in the work), then the
transform, the matched pair (clip ``clip_start_s``-``clip_end_s`` plays work
``work_start_s``-``work_end_s``), the other positions where a looping work repeats
that music (``repeats``: ``u1-u2`` work seconds, ``;``-separated), the other works
found in the clip (``others``, a medley: ``work_id score clip t1-t2 = work u1-u2``,
``;``-separated) and the error of an unreadable file. An empty ``pred_track_id``
means no match at or above the threshold.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

from matchers.match import QueryResult

COLUMNS = ("query_id", "pred_track_id", "score", "pred_offset_s", "query_s", "pitch_semitones", "tempo_ratio",
           "clip_start_s", "clip_end_s", "work_start_s", "work_end_s", "repeats", "others", "error")


class PredictionsWriter:
    """Writes one row per query result to an open text file."""

    def __init__(self, handle: IO[str]) -> None:
        self._csv = csv.writer(handle)
        self._csv.writerow(COLUMNS)

    def write(self, query_id: str, res: QueryResult) -> None:
        m = res.match
        if m is None:
            self._csv.writerow([query_id, "", "", "", f"{res.query_s:.4f}", "", "", "", "", "", "", "", "",
                                res.error or ""])
            return
        p = m.pair
        repeats = ";".join(f"{r.work_start_s:.2f}-{r.work_end_s:.2f}" for r in m.repeats)
        others = ";".join(f"{o.work_id} {o.score:.1f} clip {o.pair.clip_start_s:.2f}-{o.pair.clip_end_s:.2f} "
                          f"= work {o.pair.work_start_s:.2f}-{o.pair.work_end_s:.2f}" for o in res.others)
        self._csv.writerow([query_id, m.work_id, f"{m.score:.3f}", f"{m.work_at_clip_start_s:.3f}",
                            f"{res.query_s:.4f}", f"{m.pitch_semitones:.3f}", f"{m.tempo_ratio:.4f}",
                            f"{p.clip_start_s:.3f}", f"{p.clip_end_s:.3f}", f"{p.work_start_s:.3f}",
                            f"{p.work_end_s:.3f}", repeats, others, res.error or ""])


def query_id(path: str | Path) -> str:
    """A clip's id in the predictions: its file name without the extension."""
    return Path(path).stem
