"""A rolling buffer of a room's recent audio, on disk and bounded, placed on the wall clock.

Chunks from :mod:`crawler.capture` are written as raw int16 files (one per chunk, named by
the wall time of their first sample) under ``<home>/live-buffer/<room>/``; anything older than
``keep_s`` behind the newest audio is deleted as new audio arrives, so a room never holds more
than ``keep_s`` seconds (``keep_s * sample_rate * 2`` bytes) plus one chunk. :meth:`cut` returns
any span still held, with silence where nothing was on air for us (ads skipped, a reconnect).
That is what lets the evidence of a hit start *before* the moment was matched.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class _Piece:
    start: float
    n: int
    path: Path


class RoomBuffer:
    """The last ``keep_s`` seconds of one room's audio at ``sample_rate``; thread-safe."""

    def __init__(self, folder: Path, *, sample_rate: int, keep_s: float) -> None:
        if keep_s <= 0:
            raise ValueError("keep_s must be positive")
        self.folder = Path(folder)
        self.sr = sample_rate
        self.keep_s = float(keep_s)
        shutil.rmtree(self.folder, ignore_errors=True)   # audio of an earlier process is not ours to splice
        self.folder.mkdir(parents=True)
        self._pieces: list[_Piece] = []
        self._lock = threading.Lock()

    @property
    def start(self) -> float | None:
        with self._lock:
            return self._pieces[0].start if self._pieces else None

    @property
    def end(self) -> float | None:
        with self._lock:
            return self._pieces[-1].start + self._pieces[-1].n / self.sr if self._pieces else None

    def bytes_on_disk(self) -> int:
        with self._lock:
            return sum(p.n * 2 for p in self._pieces)

    def append(self, start: float, samples: np.ndarray) -> None:
        """Add audio whose first sample was on air at ``start`` (epoch s); drop what fell out of the window."""
        if not len(samples):
            return
        path = self.folder / f"{int(round(start * 1000)):015d}.pcm"
        tmp = path.with_suffix(".part")
        np.asarray(samples, dtype="<i2").tofile(tmp)
        os.replace(tmp, path)
        with self._lock:
            self._pieces.append(_Piece(start, len(samples), path))
            self._pieces.sort(key=lambda p: p.start)
            newest = max(p.start + p.n / self.sr for p in self._pieces)
            while self._pieces and self._pieces[0].start + self._pieces[0].n / self.sr < newest - self.keep_s:
                self._pieces.pop(0).path.unlink(missing_ok=True)

    def cut(self, t0: float, t1: float) -> tuple[float, np.ndarray]:
        """Audio on air from ``t0`` to ``t1`` (clipped to what is held): (start, int16 samples)."""
        with self._lock:
            pieces = list(self._pieces)
        if not pieces or t1 <= t0:
            return t0, np.zeros(0, dtype="<i2")
        t0 = max(t0, pieces[0].start)
        t1 = min(t1, pieces[-1].start + pieces[-1].n / self.sr)
        n = max(0, int(round((t1 - t0) * self.sr)))
        out = np.zeros(n, dtype="<i2")
        for p in pieces:
            a = int(round((p.start - t0) * self.sr))
            if a >= n or a + p.n <= 0:
                continue
            data = np.fromfile(p.path, dtype="<i2")
            lo, hi = max(0, -a), min(p.n, n - a)
            out[a + lo:a + hi] = data[lo:hi]
        return t0, out

    def close(self) -> None:
        with self._lock:
            self._pieces.clear()
        shutil.rmtree(self.folder, ignore_errors=True)
