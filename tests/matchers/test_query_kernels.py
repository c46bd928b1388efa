"""The query side's fast forms (key expansion, index lookup) give exactly what the plain forms they
replaced give: the same keys in the same order, the same hits in the same order, bit for bit, so a
verdict never depends on which form ran. Seeded random peaks and generated catalogs, edges included."""

import dataclasses

import numpy as np
import pytest

import matchers.hashes as hashes
import matchers.index as index_module
from matchers.config import DEFAULT
from matchers.hashes import index_keys, key_bits, pack_quad_key, query_keys, unpack_value
from matchers.index import F_SCALE, T_SCALE, FingerprintIndex, WorkFingerprint
from matchers.match import _most_voted
from matchers.peaks import Peaks


def _expand_by_masks(choices, row, pack):
    """The plain expansion: for each combination of levels, every field gathered to every row."""
    keys, key_rows = [], []
    for mask_bits in range(1 << len(choices)):
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
        keys.append(pack(sel, [v[sel] for v in vals]))
        key_rows.append(row[sel])
    if not keys:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(key_rows)


def _random_peaks(rng, n):
    t = np.sort(rng.uniform(0, 40 * n / 24, n)).astype(np.float32)
    f = rng.uniform(0, 150, n).astype(np.float32)
    return Peaks(t, f, np.zeros(n, np.float32))


def _plain_query_keys(monkeypatch, peaks, cfg, **kw):
    """query_keys with the plain expansion swapped in (the pack callbacks adapted to its form)."""

    def plain(choices, row, pack, coarse=None):
        def pack_rows(sel, vals):
            fine = pack(vals)     # the fine fields of the selected rows, as pack_key / pack_quad_key pack them
            return fine if coarse is None else coarse[sel] | fine

        return _expand_by_masks(choices, row, pack_rows)

    monkeypatch.setattr(hashes, "_expand_fine", plain)
    try:
        return hashes.query_keys(peaks, cfg, **kw)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("points", [3, 4])
@pytest.mark.parametrize("seed,n", [(0, 0), (1, 5), (2, 60), (3, 400)])
def test_key_expansion_is_the_plain_per_combination_one(monkeypatch, points, seed, n):
    cfg = dataclasses.replace(DEFAULT, points=points)
    peaks = _random_peaks(np.random.default_rng(seed), n)
    for kw in ({"neighbours": 10, "max_tempo_ratio": 1.4, "max_pitch_bins": 13.0},
               {"neighbours": 15, "max_tempo_ratio": 2.2, "max_pitch_bins": 40.0, "alt_margin": 0.5}):
        keys, rows, _ = query_keys(peaks, cfg, **kw)
        want_keys, want_rows, _ = _plain_query_keys(monkeypatch, peaks, cfg, **kw)
        assert keys.dtype == want_keys.dtype == np.uint32 and rows.dtype == want_rows.dtype == np.int64
        assert np.array_equal(keys, want_keys) and np.array_equal(rows, want_rows)
        if n >= 60:
            assert len(keys) > 0


def test_quad_pack_of_whole_tuples_is_the_row_pack():
    rng = np.random.default_rng(9)
    fields = [rng.integers(0, 16, 50), rng.integers(0, 16, 50)] + [rng.integers(-63, 64, 50) for _ in range(3)]
    row = rng.integers(0, 50, 200)
    assert np.array_equal(pack_quad_key(*fields)[row], pack_quad_key(*[f[row] for f in fields]))


def _lookup_by_repeats(index, keys, max_bucket):
    """The plain lookup: per segment, index arithmetic by np.repeat and each hit's work by a binary
    search of the works' first peaks."""
    keys = np.asarray(keys, dtype=np.int64)
    spans = [seg.buckets(keys) for seg in index._segments]
    sizes = sum(((hi - lo).astype(np.int64) for lo, hi in spans), np.zeros(len(keys), dtype=np.int64))
    skip = sizes > max_bucket if max_bucket is not None else np.zeros(len(keys), dtype=bool)
    out, work_base = ([], [], [], [], []), 0
    for seg, (lo, hi) in zip(index._segments, spans):
        counts = (hi - lo).astype(np.int64)
        counts[skip] = 0
        total = int(counts.sum())
        probe = np.repeat(np.arange(len(keys)), counts)
        pos = np.repeat(lo.astype(np.int64) - np.cumsum(counts) + counts, counts) + np.arange(total)
        anchor, third = unpack_value(seg.values[pos])
        t_a = np.asarray(seg.peak_t[anchor], np.float32) / T_SCALE
        t_k = np.asarray(seg.peak_t[anchor + third], np.float32) / T_SCALE
        starts = np.array([w["peak_start"] for w in seg.works], dtype=np.int64)
        out[0].append(probe)
        out[1].append(np.searchsorted(starts, anchor, side="right") - 1 + work_base)
        out[2].append(t_a)
        out[3].append(np.asarray(seg.peak_f[anchor], np.float32) / F_SCALE)
        out[4].append(t_k - t_a)
        work_base += len(seg.works)
    return tuple(np.concatenate(x) for x in out)


def _work(rng, cfg, work_id, n_peaks):
    """A work of ``n_peaks`` random peaks on few frequencies, so keys repeat and buckets fill."""
    t = np.cumsum(rng.integers(1, 9, n_peaks)).astype(np.float32) + rng.uniform(0, 0.9, n_peaks).astype(np.float32)
    f = (rng.integers(20, 32, n_peaks) * 2 + rng.uniform(0, 0.5, n_peaks)).astype(np.float32)
    peaks = Peaks(t, f, np.zeros(n_peaks, np.float32))
    keys, tr = index_keys(peaks, cfg)
    return WorkFingerprint(work_id, peaks, keys, tr.i, tr.k - tr.i, float(t[-1]) / 62.5 if n_peaks else 0.0)


@pytest.mark.parametrize("points", [3, 4])
@pytest.mark.parametrize("directory", [False, True])
def test_lookup_is_the_plain_repeat_and_binary_search_form(tmp_path, monkeypatch, points, directory):
    """Several segments (hit arrays joined, works numbered across them), works shorter than a work
    block and empty ones (several works, or none, starting inside one block), with and without the
    bucket directory: every array equal to the plain form's, dtype and order included."""
    cfg = dataclasses.replace(DEFAULT, points=points)
    rng = np.random.default_rng(points * 2 + directory)
    sizes = [[3, 700, 40, 0, 9, 600], [1200, 5, 5, 300], [90]]
    path = tmp_path / "i"
    for batch, group in enumerate(sizes):
        FingerprintIndex.open(path, cfg, create=True).add(
            [_work(rng, cfg, f"w{batch}-{n}", size) for n, size in enumerate(group)])
    if directory:
        monkeypatch.setattr(index_module, "DIRECTORY_MIN_HASHES", 1)
    index = FingerprintIndex.open(path, cfg)
    assert len(index._segments) == len(sizes) and all((s.starts is not None) == directory for s in index._segments)
    stored = np.concatenate([np.asarray(s.keys) for s in index._segments])
    probes = np.concatenate([stored[::3], stored[::5] + 1, rng.integers(0, 1 << key_bits(cfg), 500)]).astype(np.uint32)
    for max_bucket in (None, 3, 48):
        got = index.lookup(probes, max_bucket=max_bucket)
        want = _lookup_by_repeats(index, probes, max_bucket)
        assert len(want[0]) > 1000
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and np.array_equal(g, w)
    got = index.lookup(np.zeros(0, np.uint32))
    assert [g.dtype for g in got] == [np.int64, np.int64, np.float32, np.float32, np.float32] and len(got[0]) == 0


@pytest.mark.parametrize("n,k,top", [(0, 10, 5), (4, 10, 5), (10, 10, 3), (11, 10, 3), (5000, 10, 4), (5000, 10, 400)])
def test_most_voted_cells_are_the_stable_sort_s_first(n, k, top):
    """Candidates are the cells with most votes, equal counts in (work, cell) order: the same on every
    CPU (a plain argsort's order of ties is its algorithm's), many ties at the cut included."""
    counts = np.random.default_rng(n + top).integers(0, top, n).astype(np.int64)
    got = _most_voted(counts, k)
    assert got.dtype == np.int64 and np.array_equal(got, np.argsort(-counts, kind="stable")[:k])
