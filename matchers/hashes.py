"""Pitch- and tempo-invariant triplet hashes.

Three peaks i, j, k (in time order) give a key that does not change when the
music is pitch-shifted (frequency *differences* on a log axis) or played faster
or slower (the *ratio* of time gaps), with two coarse fields that change little
(the anchor's frequency band and the log of the triplet's span) and are probed
over their plausible range at query time. The index stores, for each key, which
anchor peak made it and how far along the third peak was, so a match yields the
time scale and the pitch shift that map the clip onto the work.

Key layout (``KEY_BITS`` = 24), most significant first::

    band (2) | span (4) | ratio (4) | df_ij (7) | df_jk (7)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matchers.config import FingerprintConfig
from matchers.peaks import Peaks

DF_BITS = 7
RATIO_BITS = 4
SPAN_BITS = 4
BAND_BITS = 2
KEY_BITS = BAND_BITS + SPAN_BITS + RATIO_BITS + 2 * DF_BITS
DF_JK_SHIFT = 0
DF_IJ_SHIFT = DF_BITS
RATIO_SHIFT = 2 * DF_BITS
SPAN_SHIFT = RATIO_SHIFT + RATIO_BITS
BAND_SHIFT = SPAN_SHIFT + SPAN_BITS
DF_OFFSET = 1 << (DF_BITS - 1)   # df in [-63, 63] stored as df + 64
MIN_SPAN_FRAMES = 2.0

# value layout: anchor peak's index in its segment (28 bits) | k - i (4 bits)
THIRD_BITS = 4
PEAK_INDEX_BITS = 32 - THIRD_BITS
MAX_NEIGHBOURS = (1 << THIRD_BITS) - 1


def pack_key(band, span, ratio, df_ij, df_jk) -> np.ndarray:
    """Pack quantised fields (integer arrays, df signed) into uint32 keys."""
    return ((np.asarray(band, np.uint32) << BAND_SHIFT)
            | (np.asarray(span, np.uint32) << SPAN_SHIFT)
            | (np.asarray(ratio, np.uint32) << RATIO_SHIFT)
            | (np.asarray(np.asarray(df_ij) + DF_OFFSET, np.uint32) << DF_IJ_SHIFT)
            | (np.asarray(np.asarray(df_jk) + DF_OFFSET, np.uint32) << DF_JK_SHIFT))


def unpack_key(key) -> tuple[np.ndarray, ...]:
    """Inverse of :func:`pack_key`: ``(band, span, ratio, df_ij, df_jk)``."""
    key = np.asarray(key, np.uint32)
    field = lambda shift, bits: ((key >> shift) & ((1 << bits) - 1)).astype(np.int64)  # noqa: E731
    return (field(BAND_SHIFT, BAND_BITS), field(SPAN_SHIFT, SPAN_BITS), field(RATIO_SHIFT, RATIO_BITS),
            field(DF_IJ_SHIFT, DF_BITS) - DF_OFFSET, field(DF_JK_SHIFT, DF_BITS) - DF_OFFSET)


def pack_value(anchor, third_offset) -> np.ndarray:
    """Pack (anchor peak index, k - i) into uint32 index values."""
    anchor = np.asarray(anchor, np.int64)
    if len(anchor) and anchor.max() >= (1 << PEAK_INDEX_BITS):
        raise ValueError("segment too large: more than 2**28 peaks")
    return ((anchor.astype(np.uint32) << THIRD_BITS) | np.asarray(third_offset, np.uint32))


def unpack_value(value) -> tuple[np.ndarray, np.ndarray]:
    value = np.asarray(value, np.uint32)
    return (value >> THIRD_BITS).astype(np.int64), (value & MAX_NEIGHBOURS).astype(np.int64)


@dataclass(frozen=True)
class Triplets:
    """Triplets of one peak list: peak indices ``i < j < k`` (arrays of equal length)."""

    i: np.ndarray
    j: np.ndarray
    k: np.ndarray


def triplets(peaks: Peaks, cfg: FingerprintConfig, *, neighbours: int, per_anchor: int | None) -> Triplets:
    """Triplets whose j and k are among the ``neighbours`` peaks after each anchor.

    Pairs (j, k) are tried nearest-first; ``per_anchor`` caps how many are kept
    per anchor (None: all valid ones, as queries do).
    """
    n = len(peaks)
    if per_anchor is not None and neighbours > MAX_NEIGHBOURS:  # the index stores k - i in THIRD_BITS
        raise ValueError(f"index neighbours must be at most {MAX_NEIGHBOURS}")
    empty = np.zeros(0, dtype=np.int64)
    if n < 3:
        return Triplets(empty, empty, empty)
    a, b = np.triu_indices(neighbours, k=1)          # positions of j and k after the anchor
    order = np.lexsort((a, b))                        # nearest k first, then nearest j
    a, b = a[order] + 1, b[order] + 1
    i = np.arange(n)[:, None]
    j = i + a[None, :]
    k = i + b[None, :]
    valid = k < n
    j = np.minimum(j, n - 1)
    k = np.minimum(k, n - 1)
    t, f = peaks.t, peaks.f
    ti, tj, tk = t[i], t[j], t[k]
    fi, fj, fk = f[i], f[j], f[k]
    valid &= (tj - ti >= cfg.min_gap_frames) & (tk - tj >= cfg.min_gap_frames)
    valid &= (tk - ti <= cfg.max_span_frames) & (tk - ti >= MIN_SPAN_FRAMES)
    valid &= (np.abs(fj - fi) <= cfg.max_df_bins - 1) & (np.abs(fk - fj) <= cfg.max_df_bins - 1)
    if per_anchor is not None:
        valid &= np.cumsum(valid, axis=1) <= per_anchor
    rows, cols = np.nonzero(valid)
    return Triplets(i=rows.astype(np.int64), j=j[rows, cols].astype(np.int64), k=k[rows, cols].astype(np.int64))


def _fields(peaks: Peaks, tr: Triplets, cfg: FingerprintConfig) -> tuple[np.ndarray, ...]:
    """Continuous (unquantised) key fields, each in units of its quantisation step."""
    t, f = peaks.t.astype(np.float64), peaks.f.astype(np.float64)
    span = t[tr.k] - t[tr.i]
    band = f[tr.i] / cfg.band_bins
    span_q = (np.log2(span) - np.log2(MIN_SPAN_FRAMES)) * cfg.span_steps_per_octave
    ratio = (t[tr.j] - t[tr.i]) / span * cfg.ratio_levels - 0.5
    return band, span_q, ratio, f[tr.j] - f[tr.i], f[tr.k] - f[tr.j]


def _limits(cfg: FingerprintConfig) -> tuple[int, int, int]:
    return (1 << BAND_BITS) - 1, (1 << SPAN_BITS) - 1, cfg.ratio_levels - 1


def index_keys(peaks: Peaks, cfg: FingerprintConfig) -> tuple[np.ndarray, Triplets]:
    """Keys for the index: one per triplet, each field at its nearest level."""
    tr = triplets(peaks, cfg, neighbours=cfg.neighbours, per_anchor=cfg.triplets_per_anchor)
    band, span, ratio, df1, df2 = _fields(peaks, tr, cfg)
    band_max, span_max, ratio_max = _limits(cfg)
    keys = pack_key(np.clip(np.floor(band), 0, band_max), np.clip(np.rint(span), 0, span_max),
                    np.clip(np.rint(ratio), 0, ratio_max), np.rint(df1), np.rint(df2))
    return keys, tr


def query_keys(peaks: Peaks, cfg: FingerprintConfig, *, neighbours: int, max_tempo_ratio: float,
               max_pitch_bins: float, alt_margin: float = 0.25) -> tuple[np.ndarray, np.ndarray, Triplets]:
    """Keys to look up for a query, probing every level a disguised copy could have landed on.

    Fine fields (ratio, the two frequency differences) also probe the neighbouring
    level when the value lies within ``alt_margin`` of a boundary; the span probes
    every level a tempo change up to ``max_tempo_ratio`` reaches, the band every
    band a pitch shift up to ``max_pitch_bins`` reaches. Returns ``(keys, triplet
    row of each key, triplets)``.
    """
    tr = triplets(peaks, cfg, neighbours=neighbours, per_anchor=None)
    band, span, ratio, df1, df2 = _fields(peaks, tr, cfg)
    band_max, span_max, ratio_max = _limits(cfg)
    n = len(tr.i)
    rows = np.arange(n)
    choices = []
    for x, lo, hi in ((ratio, 0, ratio_max), (df1, -DF_OFFSET + 1, DF_OFFSET - 1), (df2, -DF_OFFSET + 1, DF_OFFSET - 1)):
        near = np.rint(x)
        alt = near + np.where(x >= near, 1, -1)
        has_alt = (np.abs(x - near) > 0.5 - alt_margin) & (alt >= lo) & (alt <= hi)
        choices.append((np.clip(near, lo, hi), alt, has_alt))
    reach = np.log2(max_tempo_ratio) * cfg.span_steps_per_octave
    span_lo = np.clip(np.floor(span - reach + 0.5), 0, span_max)
    span_hi = np.clip(np.floor(span + reach + 0.5), 0, span_max)
    band_lo = np.clip(np.floor(band - max_pitch_bins / cfg.band_bins), 0, band_max)
    band_hi = np.clip(np.floor(band + max_pitch_bins / cfg.band_bins), 0, band_max)

    # expand the coarse fields: one row per (triplet, span level, band level)
    n_span = (span_hi - span_lo + 1).astype(np.int64)
    n_band = (band_hi - band_lo + 1).astype(np.int64)
    reps = n_span * n_band
    row = np.repeat(rows, reps)
    within = np.arange(len(row)) - np.repeat(np.cumsum(reps) - reps, reps)
    span_v = span_lo[row] + within // n_band[row]
    band_v = band_lo[row] + within % n_band[row]

    # expand the fine fields: the nearest level, and the neighbour where it is close
    keys, key_rows = [], []
    for mask_bits in range(8):
        sel = np.ones(len(row), dtype=bool)
        vals = []
        for bit, (near, alt, has_alt) in enumerate(choices):
            if mask_bits >> bit & 1:
                sel &= has_alt[row]
                vals.append(alt[row])
            else:
                vals.append(near[row])
        if not sel.any():
            continue
        keys.append(pack_key(band_v[sel], span_v[sel], vals[0][sel], vals[1][sel], vals[2][sel]))
        key_rows.append(row[sel])
    if not keys:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64), tr
    return np.concatenate(keys), np.concatenate(key_rows), tr
