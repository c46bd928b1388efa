"""Pitch- and tempo-invariant keys from three or four peaks (triplets, or quads for large catalogs).

Three peaks i, j, k (in time order) give a key that does not change when the
music is pitch-shifted (frequency *differences* on a log axis) or played faster
or slower (the *ratio* of time gaps), with two coarse fields that change little
(the anchor's frequency band and the log of the triplet's span) and are probed
over their plausible range at query time. The index stores, for each key, which
anchor peak made it and how far along the last peak was, so a match yields the
time scale and the pitch shift that map the clip onto the work.

Triplet key layout (``KEY_BITS`` = 24), most significant first::

    band (2) | span (4) | ratio (4) | df_ij (7) | df_jk (7)

Across different works of real music a triplet key holds about 19.1 bits of information
(its collision entropy), so past some 10 000 works of 3 minutes a bucket holds so many entries
that queries slow down or must skip them (README, "Catalog scale"). Four peaks i, j, k, l
(``FingerprintConfig.points = 4``) give a quad key of only invariant fields, with two
time ratios and three frequency differences (``QUAD_KEY_BITS`` = 29)::

    df_ij (7) | df_jk (7) | df_kl (7) | ratio_j (4) | ratio_k (4)

where ratio_j, ratio_k place t_j and t_k within the span t_l - t_i. A quad key holds about
22.3 bits across works, so a query reads about a twentieth of the entries a triplet query
reads; the price is robustness, since all four peaks must survive the disguise.
The range of time scale and pitch shift is checked after lookup (from the stored anchor).
"""

from __future__ import annotations

import itertools
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

QUAD_KEY_BITS = 3 * DF_BITS + 2 * RATIO_BITS
QUAD_DF_SHIFTS = (RATIO_BITS * 2 + 2 * DF_BITS, RATIO_BITS * 2 + DF_BITS, RATIO_BITS * 2)
QUAD_RATIO_SHIFTS = (RATIO_BITS, 0)

# value layout: anchor peak's index in its segment (28 bits) | last - i (4 bits)
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


def key_bits(cfg: FingerprintConfig) -> int:
    """How many bits the keys of ``cfg``'s family use (24 for triplets, 29 for quads)."""
    return KEY_BITS if cfg.points == 3 else QUAD_KEY_BITS


@dataclass(frozen=True)
class Tuples:
    """Peak tuples of one peak list: the anchor ``i``, the peaks between (``inner``) and the last ``k``
    (arrays of equal length, indices into the peaks, in time order). The span is ``t[k] - t[i]``."""

    i: np.ndarray
    inner: tuple[np.ndarray, ...]
    k: np.ndarray


def tuples(peaks: Peaks, points: int, *, neighbours: int, per_anchor: int | None, min_gap: float,
           max_span: float, max_df: float) -> Tuples:
    """Tuples of ``points`` peaks whose later members are among the ``neighbours`` peaks after each anchor.

    Members are tried nearest-first (the last member nearest, then the one before it...);
    ``per_anchor`` caps how many are kept per anchor (None: all valid ones, as queries do).
    Consecutive members are at least ``min_gap`` frames apart and at most ``max_df`` bins
    apart in frequency; the span is at most ``max_span`` frames.
    """
    n = len(peaks)
    if per_anchor is not None and neighbours > MAX_NEIGHBOURS:  # the index stores last - i in THIRD_BITS
        raise ValueError(f"index neighbours must be at most {MAX_NEIGHBOURS}")
    empty = np.zeros(0, dtype=np.int64)
    if n < points:
        return Tuples(empty, tuple(empty for _ in range(points - 2)), empty)
    combos = sorted(itertools.combinations(range(1, neighbours + 1), points - 1), key=lambda c: c[::-1])
    after = np.array(combos, dtype=np.int64)            # [n_combos, points - 1] positions after the anchor
    i = np.arange(n)[:, None]
    members = [np.broadcast_to(i, (n, len(combos)))] + [i + after[None, :, m] for m in range(points - 1)]
    valid = members[-1] < n
    members = [np.minimum(m, n - 1) for m in members]
    t, f = peaks.t, peaks.f
    for a, b in zip(members, members[1:]):
        valid &= (t[b] - t[a] >= min_gap) & (np.abs(f[b] - f[a]) <= max_df)
    span = t[members[-1]] - t[members[0]]
    valid &= (span <= max_span) & (span >= MIN_SPAN_FRAMES)
    if per_anchor is not None:
        valid &= np.cumsum(valid, axis=1) <= per_anchor
    rows, cols = np.nonzero(valid)
    picked = [m[rows, cols].astype(np.int64) for m in members]
    return Tuples(i=picked[0], inner=tuple(picked[1:-1]), k=picked[-1])


def triplets(peaks: Peaks, cfg: FingerprintConfig, *, neighbours: int, per_anchor: int | None) -> Tuples:
    """Triplets (``inner`` = (j,)) with the index's limits on gaps, span and frequency steps."""
    return tuples(peaks, 3, neighbours=neighbours, per_anchor=per_anchor, min_gap=cfg.min_gap_frames,
                  max_span=cfg.max_span_frames, max_df=cfg.max_df_bins - 1)


def _fields(peaks: Peaks, tr: Tuples, cfg: FingerprintConfig) -> tuple[np.ndarray, ...]:
    """Continuous (unquantised) triplet key fields, each in units of its quantisation step."""
    t, f = peaks.t.astype(np.float64), peaks.f.astype(np.float64)
    (j,) = tr.inner
    span = t[tr.k] - t[tr.i]
    band = f[tr.i] / cfg.band_bins
    span_q = (np.log2(span) - np.log2(MIN_SPAN_FRAMES)) * cfg.span_steps_per_octave
    ratio = (t[j] - t[tr.i]) / span * cfg.ratio_levels - 0.5
    return band, span_q, ratio, f[j] - f[tr.i], f[tr.k] - f[j]


def _limits(cfg: FingerprintConfig) -> tuple[int, int, int]:
    return (1 << BAND_BITS) - 1, (1 << SPAN_BITS) - 1, cfg.ratio_levels - 1


def _triplet_index_keys(peaks: Peaks, cfg: FingerprintConfig) -> tuple[np.ndarray, Tuples]:
    """Index keys of triplets: one per triplet, each field at its nearest level."""
    tr = triplets(peaks, cfg, neighbours=cfg.neighbours, per_anchor=cfg.triplets_per_anchor)
    band, span, ratio, df1, df2 = _fields(peaks, tr, cfg)
    band_max, span_max, ratio_max = _limits(cfg)
    keys = pack_key(np.clip(np.floor(band), 0, band_max), np.clip(np.rint(span), 0, span_max),
                    np.clip(np.rint(ratio), 0, ratio_max), np.rint(df1), np.rint(df2))
    return keys, tr


def _triplet_query_keys(peaks: Peaks, cfg: FingerprintConfig, *, neighbours: int, max_tempo_ratio: float,
                        max_pitch_bins: float, alt_margin: float) -> tuple[np.ndarray, np.ndarray, Tuples]:
    """Triplet keys to look up for a query, probing every level a disguised copy could have landed on.

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
    df_lim = (-DF_OFFSET + 1, DF_OFFSET - 1)
    choices = _levels(((ratio, (0, ratio_max)), (df1, df_lim), (df2, df_lim)), alt_margin)
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

    coarse = (band_v.astype(np.uint32) << BAND_SHIFT) | (span_v.astype(np.uint32) << SPAN_SHIFT)
    keys, key_rows = _expand_fine(choices, row, lambda vals: pack_key(0, 0, *vals), coarse)
    return keys, key_rows, tr


def _levels(fields, alt_margin: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per fine field ``(x, (lo, hi))``: its nearest level, the neighbouring level, and whether
    ``x`` lies within ``alt_margin`` of their boundary (so a copy may have landed on either)."""
    choices = []
    for x, (lo, hi) in fields:
        near = np.rint(x)
        alt = near + np.where(x >= near, 1, -1)
        has_alt = (np.abs(x - near) > 0.5 - alt_margin) & (alt >= lo) & (alt <= hi)
        choices.append((np.clip(near, lo, hi), alt, has_alt))
    return choices


def _expand_fine(choices, row: np.ndarray, pack, coarse: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of nearest / neighbouring level of the fine fields, for each tuple ``row``:
    keys and the tuple row of each key, combination by combination (nearest levels first), rows in
    order within each.

    ``pack(field values)`` packs the fine fields of every tuple (one key per tuple, the coarse bits
    zero); ``coarse`` (one per row, or None) holds the bits each row adds. The fine part is packed
    per tuple and gathered to the rows, rather than every field gathered to every row for each of
    the combinations: the same keys, a fraction of the reads.
    """
    either = [np.where(has_alt, alt, near) for near, alt, has_alt in choices]   # alt where it exists
    keys, key_rows = [], []
    for mask_bits in range(1 << len(choices)):
        taken = [bit for bit in range(len(choices)) if mask_bits >> bit & 1]
        vals = [either[bit] if bit in taken else near for bit, (near, _, _) in enumerate(choices)]
        if taken:
            eligible = np.logical_and.reduce([choices[bit][2] for bit in taken])
            if not eligible.any():
                continue
            at = np.flatnonzero(eligible[row])
            if len(at) == 0:
                continue
            tuple_row = row[at]
        else:
            at, tuple_row = None, row
            if len(row) == 0:
                continue
        fine = pack(vals)[tuple_row]
        keys.append(fine if coarse is None else fine | (coarse if at is None else coarse[at]))
        key_rows.append(tuple_row)
    if not keys:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(key_rows)


# ---- quads -------------------------------------------------------------------------------------

def pack_quad_key(ratio_j, ratio_k, df_ij, df_jk, df_kl) -> np.ndarray:
    """Pack quantised quad fields (integer arrays, df signed) into uint32 keys (QUAD_KEY_BITS bits)."""
    out = np.zeros(np.shape(ratio_j), dtype=np.uint32)
    for df, shift in zip((df_ij, df_jk, df_kl), QUAD_DF_SHIFTS):
        out |= np.asarray(np.asarray(df) + DF_OFFSET, np.uint32) << shift
    for ratio, shift in zip((ratio_j, ratio_k), QUAD_RATIO_SHIFTS):
        out |= np.asarray(ratio, np.uint32) << shift
    return out


def _quad_fields(peaks: Peaks, tr: Tuples, cfg: FingerprintConfig) -> tuple[np.ndarray, ...]:
    """Continuous quad key fields: the two inner peaks' places in the span (in ratio levels) and
    the three frequency steps (bins)."""
    t, f = peaks.t.astype(np.float64), peaks.f.astype(np.float64)
    j, k = tr.inner
    span = t[tr.k] - t[tr.i]
    return ((t[j] - t[tr.i]) / span * cfg.ratio_levels - 0.5, (t[k] - t[tr.i]) / span * cfg.ratio_levels - 0.5,
            f[j] - f[tr.i], f[k] - f[j], f[tr.k] - f[k])


def _quad_index_keys(peaks: Peaks, cfg: FingerprintConfig) -> tuple[np.ndarray, Tuples]:
    tr = tuples(peaks, 4, neighbours=cfg.neighbours, per_anchor=cfg.triplets_per_anchor,
                min_gap=cfg.min_gap_frames, max_span=cfg.max_span_frames, max_df=cfg.max_df_bins - 1)
    rj, rk, d1, d2, d3 = _quad_fields(peaks, tr, cfg)
    top = cfg.ratio_levels - 1
    return pack_quad_key(np.clip(np.rint(rj), 0, top), np.clip(np.rint(rk), 0, top),
                         np.rint(d1), np.rint(d2), np.rint(d3)), tr


def _quad_query_keys(peaks: Peaks, cfg: FingerprintConfig, *, neighbours: int, max_tempo_ratio: float,
                     alt_margin: float) -> tuple[np.ndarray, np.ndarray, Tuples]:
    """Quad keys to look up: the key holds no coarse field, so each quad probes only its fine
    fields' nearest and (near a boundary) neighbouring levels. Gaps and span are allowed what a
    time scale up to ``max_tempo_ratio`` makes of the index's limits."""
    tr = tuples(peaks, 4, neighbours=neighbours, per_anchor=None, min_gap=cfg.min_gap_frames / max_tempo_ratio,
                max_span=cfg.max_span_frames * max_tempo_ratio, max_df=cfg.max_df_bins - 1)
    rj, rk, d1, d2, d3 = _quad_fields(peaks, tr, cfg)
    ratio_lim, df_lim = (0, cfg.ratio_levels - 1), (-DF_OFFSET + 1, DF_OFFSET - 1)
    choices = _levels(((rj, ratio_lim), (rk, ratio_lim), (d1, df_lim), (d2, df_lim), (d3, df_lim)), alt_margin)
    keys, key_rows = _expand_fine(choices, np.arange(len(tr.i)), lambda vals: pack_quad_key(*vals))
    return keys, key_rows, tr


# ---- either family -------------------------------------------------------------------------------

def index_keys(peaks: Peaks, cfg: FingerprintConfig) -> tuple[np.ndarray, Tuples]:
    """Keys for the index (the family ``cfg.points`` names): one per tuple, each field at its nearest level."""
    return _triplet_index_keys(peaks, cfg) if cfg.points == 3 else _quad_index_keys(peaks, cfg)


def query_keys(peaks: Peaks, cfg: FingerprintConfig, *, neighbours: int, max_tempo_ratio: float,
               max_pitch_bins: float, alt_margin: float = 0.25) -> tuple[np.ndarray, np.ndarray, Tuples]:
    """Keys to look up for a query: ``(keys, tuple row of each key, tuples)``. ``alt_margin`` is how
    near a level boundary a fine field must lie for the neighbouring level to be probed too.
    Quad keys do not encode the range, so the caller checks each hit's time scale and pitch
    shift (``max_pitch_bins`` is then unused)."""
    if cfg.points == 3:
        return _triplet_query_keys(peaks, cfg, neighbours=neighbours, max_tempo_ratio=max_tempo_ratio,
                                   max_pitch_bins=max_pitch_bins, alt_margin=alt_margin)
    return _quad_query_keys(peaks, cfg, neighbours=neighbours, max_tempo_ratio=max_tempo_ratio,
                            alt_margin=alt_margin)
