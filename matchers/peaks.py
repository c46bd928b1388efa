"""Spectral peaks: the points a fingerprint is made of.

A peak is the loudest cell of its time-frequency neighbourhood, kept only if it
is among the strongest few of its second (so quiet passages still get peaks and
loud ones do not flood the index). Positions are refined to a fraction of a
frame and a bin by a parabola through the neighbours, which keeps frequency
differences and time ratios stable under resampling (speed and pitch changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter

from matchers.config import FingerprintConfig


@dataclass(frozen=True)
class Peaks:
    """Peaks sorted by time. ``t``: frames (float), ``f``: log bins (float), ``m``: level in dB."""

    t: np.ndarray
    f: np.ndarray
    m: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


def find_peaks(S: np.ndarray, cfg: FingerprintConfig, *, density: float | None = None,
               neighbourhood: tuple[int, int] | None = None, hold: tuple[int, float] | None = None) -> Peaks:
    """Peaks of a log spectrogram ``S [shape=(n_frames, n_bins)]`` in dB.

    ``density`` overrides ``cfg.peaks_per_second`` and ``neighbourhood`` (frames, bins
    each side) overrides ``(cfg.peak_frames, cfg.peak_bins)``: a query may ask for
    more, smaller-neighbourhood peaks than the index holds. Under louder speech a
    music partial is rarely the loudest point of a large neighbourhood, but still of
    a small one; the index's peaks stay (almost all) among a query's, so a denser
    query finds what the index holds while the index stays small.

    ``hold = (frames, db)`` keeps only peaks whose level holds, in the same bin, within
    ``db`` over the next ``frames`` frames (see :func:`held`): a music partial sustains,
    a speech harmonic glides away or stops. Applied before the density cap, so the
    peaks that speech would have taken leave room for the music's.
    """
    n_frames, n_bins = S.shape
    if n_frames < 3:
        empty = np.zeros(0, dtype=np.float32)
        return Peaks(empty, empty, empty)
    frames, bins = neighbourhood or (cfg.peak_frames, cfg.peak_bins)
    neighbourhood = (2 * frames + 1, 2 * bins + 1)
    local_max = maximum_filter(S, size=neighbourhood, mode="nearest")
    floor = float(S.max()) - cfg.peak_floor_db
    candidate = (S == local_max) & (S > floor)
    if hold is not None:
        candidate &= held(S, *hold)
    ti, fi = np.nonzero(candidate)
    # flat plateaus (digital silence, clipped tones) give runs of equal maxima: keep one
    keep = np.ones(len(ti), dtype=bool)
    if len(ti) > 1:
        same = (np.diff(ti) == 0) & (np.diff(fi) <= 1)
        keep[1:] &= ~same
    ti, fi = ti[keep], fi[keep]
    values = S[ti, fi]

    # density cap: the strongest `per_block` peaks of each one-second block
    per_second = cfg.peaks_per_second if density is None else density
    block = max(1, int(round(cfg.frames_per_second)))
    per_block = max(1, int(round(per_second * block / cfg.frames_per_second)))
    block_id = ti // block
    order = np.lexsort((-values, block_id))
    sorted_blocks = block_id[order]
    starts = np.searchsorted(sorted_blocks, sorted_blocks, side="left")
    rank = np.arange(len(order)) - starts
    chosen = np.sort(order[rank < per_block])
    ti, fi = ti[chosen], fi[chosen]

    # sub-cell refinement by a parabola through the neighbours
    t_prev = S[np.maximum(ti - 1, 0), fi]
    t_next = S[np.minimum(ti + 1, n_frames - 1), fi]
    f_prev = S[ti, np.maximum(fi - 1, 0)]
    f_next = S[ti, np.minimum(fi + 1, n_bins - 1)]
    centre = S[ti, fi]
    dt = _vertex(t_prev, centre, t_next)
    df = _vertex(f_prev, centre, f_next)
    t = (ti + dt).astype(np.float32)
    f = (fi + df).astype(np.float32)
    order = np.argsort(t, kind="stable")
    return Peaks(t=t[order], f=f[order], m=centre[order].astype(np.float32))


def held(S: np.ndarray, frames: int, db: float) -> np.ndarray:
    """Cells of ``S`` whose level stays within ``db`` of itself over the next ``frames`` frames, same bin.

    A speech harmonic moves about a bin per frame (3 bins a semitone) as the voice's
    pitch glides, and syllables are short; the partials of music hold. The last
    ``frames`` frames of a clip cannot be judged and are kept.
    """
    lowest_after = np.full_like(S, np.inf)
    for j in range(1, frames + 1):
        np.minimum(lowest_after[:-j], S[j:], out=lowest_after[:-j])
    return lowest_after >= S - db


def _vertex(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Offset in [-0.5, 0.5] of the vertex of the parabola through (-1, a), (0, b), (1, c)."""
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(denom < 0, 0.5 * (a - c) / denom, 0.0)
    return np.clip(off, -0.5, 0.5)
