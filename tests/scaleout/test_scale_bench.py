"""``bench scale``'s parts: distractors shaped like the measured music, the build, the query sample."""

from __future__ import annotations

import numpy as np
import pytest

from earwitness.app.matcher_bench import fingerprint_settings
from earwitness.app.scale_bench import _build, sample_queries
from earwitness.app.scale_peaks import PeakModel
from matchers.config import DEFAULT
from matchers.fingerprint import fingerprint_samples
from matchers.shards import ShardedIndex
from tests.matchers.generated import song


@pytest.fixture(scope="module")
def real():
    return [fingerprint_samples(f"real{s}", song(s, 30.0), DEFAULT) for s in range(60, 66)]


def test_distractors_have_the_measured_rate_and_frequencies(real):
    model = PeakModel.measure(real, DEFAULT)
    works = list(model.works_from(0, 40, DEFAULT, seed=1, min_s=180, max_s=200))
    assert [w.work_id for w in works[:2]] == ["syn0000000", "syn0000001"]
    assert all(180 <= w.duration_s <= 200 for w in works)
    rate = sum(len(w.peaks) for w in works) / sum(w.duration_s for w in works)
    assert rate == pytest.approx(model.peaks_per_s, rel=0.05)
    real_f = np.concatenate([fp.peaks.f for fp in real])
    syn_f = np.concatenate([w.peaks.f for w in works])
    edges = np.linspace(0, real_f.max() + 1, 13)
    real_h = np.histogram(real_f, edges)[0] / len(real_f)
    syn_h = np.histogram(syn_f, edges)[0] / len(syn_f)
    assert np.abs(real_h - syn_h).sum() < 0.15          # total variation over 12 bands
    # the intervals between neighbouring peaks (what a triplet key encodes) follow the measured ones
    real_df = np.concatenate([np.abs(np.diff(np.rint(fp.peaks.f))) for fp in real])
    syn_df = np.concatenate([np.abs(np.diff(np.rint(w.peaks.f))) for w in works])
    for q in (25, 50, 75):
        assert np.percentile(syn_df, q) == pytest.approx(np.percentile(real_df, q), rel=0.1, abs=2.0)
    again = list(model.works_from(0, 40, DEFAULT, seed=1, min_s=180, max_s=200))
    assert all(np.array_equal(a.keys, b.keys) for a, b in zip(again, works))   # deterministic in the seed
    assert "peaks/s" in model.describe(1.0)


@pytest.mark.parametrize("points", [3, 4])
def test_build_streams_every_size_and_shard_count(tmp_path, real, points):
    cfg = fingerprint_settings(points)
    real = [fingerprint_samples(fp.work_id, song(int(fp.work_id[4:]), 30.0), cfg) for fp in real] if points == 4 else real
    model = PeakModel.measure(real, cfg)
    paths = {(n, k): tmp_path / f"index-{n}-x{k}" for n in (10, 30) for k in (1, 4)}
    build = _build(paths, real, model, [10, 30], seed=2, min_s=180, max_s=190, cfg=cfg, echo=lambda s: None)
    for (n, k), path in paths.items():
        index = ShardedIndex.open(path, cfg, verify_files=True)
        assert len(index) == n and len(index.shards) == k and index.version == 1
        assert {f"real{s}" for s in range(60, 66)} <= set(index.work_ids())
    assert build["hours"]["30"] > 24 * 180 / 3600
    assert build["disk_bytes"]["30x1"] > build["disk_bytes"]["10x1"] > 0


def test_query_sample_covers_every_cell():
    rows = [{"query_id": f"{kind}{i:03d}_{d}_{L}", "kind": kind, "distortion": d, "length_s": L}
            for kind in ("pos", "neg") for d in ("clean", "mp3") for L in ("5.0", "10.0") for i in range(7)]
    picked = sample_queries(rows, 3)
    assert len(picked) == 2 * 2 * 2 * 3
    assert {(r["kind"], r["distortion"], r["length_s"]) for r in picked} == {
        (r["kind"], r["distortion"], r["length_s"]) for r in rows}
    assert sample_queries(rows, 3) == picked
