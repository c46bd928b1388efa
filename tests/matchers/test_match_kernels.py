"""The matcher's fast array kernels give exactly what the plain forms they replaced give.

Each reference below is the straightforward computation the matcher used before (np.unique
votes, nine clipped scatters, a grid's column mean, a loop per clip peak, np.median,
scipy.stats.poisson); the kernels must match them bit for bit, so a verdict never depends
on which form ran. Seeded random inputs, edges included.
"""

import numpy as np
import pytest
from scipy.stats import poisson

from matchers.match import (
    CellVotes,
    _fit_pairs,
    _grid_occupancy,
    _hits,
    _median,
    _on_inner_grid,
    _peak_grid,
    _refinement_hits,
    _score,
    _start_frame_votes,
)
from matchers.peaks import Peaks


def _votes_by_unique(work, cell, anchor):
    combo = (work.astype(np.int64) << 42) | ((cell + (1 << 30)) << 10) | anchor
    cells, counts = np.unique(np.unique(combo) >> 10, return_counts=True)
    return cells >> 32, (cells & ((1 << 32) - 1)) - (1 << 30), counts


@pytest.mark.parametrize("n_work,cell_range", [(5, (-40, 40)), (300, (0, 3000)), (3, (-5, 2_000_000))])
def test_cell_votes_are_the_unique_count(n_work, cell_range):
    rng = np.random.default_rng(n_work)
    for n in (1, 7, 5000):
        work = rng.integers(0, n_work, n).astype(np.int32)
        cell = rng.integers(*cell_range, n)
        anchor = rng.integers(0, 1 << 10, n)
        votes = CellVotes.count(work, cell, anchor)
        want = _votes_by_unique(work, cell, anchor)
        got = votes.decode(np.arange(len(votes.counts))) + (votes.counts,)
        for g, w in zip(got, want):
            assert g.dtype == np.int64 and np.array_equal(g, w)
        # the candidates are taken by this argsort: the same array gives the same order, ties included
        assert np.array_equal(np.argsort(-votes.counts), np.argsort(-want[2]))
    assert len(CellVotes.count(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)).counts) == 0


def _grid_by_scatters(gt, gf, shape):
    grid = np.zeros(shape, dtype=bool)
    for dt in (-1, 0, 1):
        for df in (-1, 0, 1):
            grid[np.clip(gt + dt, 0, shape[0] - 1), np.clip(gf + df, 0, shape[1] - 1)] = True
    return grid


def _points(rng, shape, n, *, inner=True):
    lo = 1 if inner else -3
    gt = rng.integers(lo, shape[0] - lo, n)
    gf = rng.integers(0 if inner else -2, shape[1] + (0 if inner else 2), n)
    # edges on purpose: first and last bin, first and last inner frame
    gt[:4] = [max(lo, 0), shape[0] - 1 - max(lo, 0), 5, 6]
    gf[:4] = [0, shape[1] - 1, 0, shape[1] - 1]
    return gt.astype(np.int64), gf.astype(np.int64)


def test_peak_grid_is_the_nine_clipped_scatters():
    rng = np.random.default_rng(1)
    for inner in (True, False):
        for _ in range(20):
            shape = (int(rng.integers(12, 400)), int(rng.integers(5, 60)))
            gt, gf = _points(rng, shape, int(rng.integers(4, 300)), inner=inner)
            assert np.array_equal(_peak_grid(gt, gf, shape), _grid_by_scatters(gt, gf, shape))


def test_occupancy_from_points_is_the_grid_mean():
    rng = np.random.default_rng(2)
    for _ in range(30):
        shape = (int(rng.integers(12, 3000)), int(rng.integers(5, 140)))
        gt, gf = _points(rng, shape, int(rng.integers(4, 2000)))
        assert _on_inner_grid(gt, gf, shape)
        want = _grid_by_scatters(gt, gf, shape).mean(axis=0)
        assert np.array_equal(_grid_occupancy(gt, gf, shape), want)
    assert not _on_inner_grid(np.array([0, 5]), np.array([1, 2]), (10, 4))
    assert not _on_inner_grid(np.array([3, 5]), np.array([1, 4]), (10, 4))


def test_refinement_hits_are_the_hits_on_the_whole_grid():
    rng = np.random.default_rng(3)
    for _ in range(20):
        shape = (int(rng.integers(200, 2500)), int(rng.integers(20, 140)))
        gt, gf = _points(rng, shape, int(rng.integers(4, 1500)))
        n = int(rng.integers(1, 200))
        start = int(rng.integers(0, shape[0] - 150))
        mt = np.clip(start + rng.integers(0, 150, (5, 9, n)), 0, shape[0] - 1)
        mf = rng.integers(-4, shape[1] + 4, (5, n))      # bins off the grid never hit
        full = mt.shape[:2] + mf.shape
        want = _hits(_grid_by_scatters(gt, gf, shape), np.broadcast_to(mt[:, :, None, :], full),
                     np.broadcast_to(mf[None, None], full))[1]
        assert np.array_equal(_refinement_hits(gt, gf, shape[1], mt, mf), want)


def _start_frame_votes_by_loop(rt, rf, rel, qf, width):
    by_f = np.argsort(rf, kind="stable")
    rf_sorted, rt_sorted = rf[by_f], rt[by_f]
    counts = np.zeros(width, dtype=np.int32)
    landings = []
    for r, f in zip(rel, qf):
        a, b = np.searchsorted(rf_sorted, [f - 1.5, f + 1.5])
        x = np.rint(rt_sorted[a:b]).astype(np.int64) - r
        x = np.unique(np.concatenate([x - 1, x, x + 1]))
        x = x[(x >= 0) & (x < width)]
        counts[x] += 1
        landings.append(len(x))
    return counts, np.array(landings)


def test_start_frame_votes_are_the_per_peak_loop_in_any_chunking():
    rng = np.random.default_rng(4)
    rt = np.sort(rng.uniform(0, 3000, 2500)).astype(np.float32)
    rf = rng.uniform(0, 100, 2500).astype(np.float32)
    rf[::7] = np.rint(rf[::7]) + 0.5            # peaks exactly at the band's edge
    rel = np.sort(rng.integers(0, 300, 150))
    qf = rng.integers(-2, 103, 150)
    width = int(np.ceil(rt[-1])) + 2
    want = _start_frame_votes_by_loop(rt, rf, rel, qf, width)
    for chunk in (1, 97, 1 << 20):
        counts, landings = _start_frame_votes(rt, rf, rel, qf, width, chunk=chunk)
        assert np.array_equal(counts, want[0]) and np.array_equal(landings, want[1])


def test_median_is_numpy_median_in_value_and_type():
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        for n in (1, 2, 3, 4, 101, 400):
            x = rng.normal(0, 50, n).astype(dtype)
            got, want = _median(x), np.median(x)
            assert got == want and np.asarray(got).dtype == np.asarray(want).dtype


def test_score_is_the_poisson_tail():
    for hits in (0, 1, 3, 17, 160, 2000):
        for expected in (0.0, 1e-4, 0.5, 3.7, 40.0, 1500.0):
            want = float(-poisson.logsf(hits - 1, max(expected, 1e-3)) / np.log(10))
            want = min(want, 1000.0) if np.isfinite(want) else 1000.0
            assert _score(hits, expected) == want


def _fit_pairs_by_loop(peaks, hit, rt, rf, s, sh, o):
    qt, qf = peaks.t[hit].astype(np.float64), peaks.f[hit].astype(np.float64)
    pt, pf = o + s * qt, qf - sh
    pos = np.searchsorted(rt, pt)
    best_d, best_j = np.full(len(qt), np.inf), np.zeros(len(qt), dtype=np.int64)
    for d in range(-4, 4):
        j = np.clip(pos + d, 0, len(rt) - 1)
        dist = (rt[j] - pt) ** 2 + (rf[j] - pf) ** 2
        better = dist < best_d
        best_d[better], best_j[better] = dist[better], j[better]
    ok = best_d <= 2.5
    rt_m, rf_m, qt_m, qf_m = rt[best_j[ok]], rf[best_j[ok]], qt[ok], qf[ok]
    slope, intercept = np.polyfit(qt_m, rt_m, 1)
    return float(slope), float(np.median(qf_m - rf_m)), float(intercept)


def test_fit_pairs_pick_the_same_nearest_work_peaks():
    rng = np.random.default_rng(6)
    rt = np.sort(rng.uniform(0, 2000, 3000)).astype(np.float32)
    rf = np.rint(rng.uniform(0, 80, 3000)).astype(np.float32)    # whole bins: ties between neighbours
    t = np.sort(rng.uniform(0, 300, 200)).astype(np.float32)
    f = rng.uniform(0, 80, 200).astype(np.float32)
    peaks = Peaks(t, f, np.zeros_like(t))
    hit = rng.random(200) < 0.7
    for s, sh, o in ((1.0, 0.0, 500.0), (0.93, 1.5, 812.25)):
        assert _fit_pairs(peaks, hit, rt, rf, s, sh, o) == _fit_pairs_by_loop(peaks, hit, rt, rf, s, sh, o)
