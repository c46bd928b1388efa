"""Bit layouts round-trip; keys are invariant to pitch shift and tempo change by construction."""

import numpy as np

from matchers.config import DEFAULT
from matchers.hashes import (BAND_BITS, DF_OFFSET, KEY_BITS, RATIO_BITS, SPAN_BITS, index_keys, pack_key,
                             pack_value, query_keys, unpack_key, unpack_value)
from matchers.peaks import Peaks


def test_key_fields_round_trip_over_their_whole_range():
    rng = np.random.default_rng(0)
    n = 10_000
    fields = (rng.integers(0, 1 << BAND_BITS, n), rng.integers(0, 1 << SPAN_BITS, n),
              rng.integers(0, 1 << RATIO_BITS, n), rng.integers(-DF_OFFSET + 1, DF_OFFSET, n),
              rng.integers(-DF_OFFSET + 1, DF_OFFSET, n))
    keys = pack_key(*fields)
    assert keys.dtype == np.uint32 and int(keys.max()) < (1 << KEY_BITS)
    for got, want in zip(unpack_key(keys), fields):
        np.testing.assert_array_equal(got, want)


def test_value_round_trip():
    anchors = np.array([0, 1, 12345, (1 << 28) - 1])
    thirds = np.array([1, 15, 7, 2])
    a, t = unpack_value(pack_value(anchors, thirds))
    np.testing.assert_array_equal(a, anchors)
    np.testing.assert_array_equal(t, thirds)


def _random_peaks(rng, n=400):
    t = np.sort(rng.uniform(0, 600, n)).astype(np.float32)
    f = rng.uniform(10, 150, n).astype(np.float32)
    return Peaks(t, f, np.zeros(n, np.float32))


def test_a_shifted_and_stretched_copy_finds_every_index_key_among_its_probes():
    rng = np.random.default_rng(1)
    ref = _random_peaks(rng)
    ref_keys, _ = index_keys(ref, DEFAULT)
    # +5 bins (5/3 semitone) and 8 % faster: a "sped up" copy
    copy = Peaks(ref.t / 1.08, ref.f + 5, ref.m)
    probes, _, _ = query_keys(copy, DEFAULT, neighbours=DEFAULT.neighbours, max_tempo_ratio=1.3, max_pitch_bins=12)
    found = np.isin(ref_keys, probes).mean()
    # a few triplets sit on the gap and span limits and fall out when time is scaled
    assert found > 0.95, f"only {found:.1%} of the reference keys are probed by the disguised copy"


def test_unrelated_peaks_share_few_keys():
    rng = np.random.default_rng(2)
    a_keys, _ = index_keys(_random_peaks(rng), DEFAULT)
    b_keys, _ = index_keys(_random_peaks(rng), DEFAULT)
    assert np.isin(a_keys, b_keys).mean() < 0.05
