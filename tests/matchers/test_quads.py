"""Quad keys (``FingerprintConfig.points = 4``), the key family for large catalogs, and the wide-key lookup."""

from dataclasses import asdict, replace
import hashlib
import json

import numpy as np
import pytest
import soxr

import matchers.index as index_module
from matchers.config import DEFAULT, DEFAULT_QUERY, FingerprintConfig
from matchers.errors import IndexFormatError
from matchers.fingerprint import fingerprint_samples
from matchers.hashes import QUAD_KEY_BITS, index_keys, key_bits, query_keys
from matchers.index import FingerprintIndex
from matchers.match import Matcher
from matchers.peaks import Peaks
from matchers.shards import ShardedIndex
from tests.matchers.generated import SR, song

QUADS = replace(DEFAULT, points=4, neighbours=8, triplets_per_anchor=12)   # config/fingerprint.yaml's advice
QUAD_QUERY = replace(DEFAULT_QUERY, neighbours=9, background_neighbours=10)
SEEDS = list(range(60, 68))


def _random_peaks(rng, n=400):
    t = np.sort(rng.uniform(0, 600, n)).astype(np.float32)
    f = rng.uniform(10, 150, n).astype(np.float32)
    return Peaks(t, f, np.zeros(n, np.float32))


def test_a_triplet_index_built_before_the_key_family_existed_still_opens():
    """The digest leaves ``points`` out at 3, so every index built before it keeps its digest."""
    legacy = {k: v for k, v in asdict(DEFAULT).items() if k != "points"}
    assert DEFAULT.digest() == hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:16]
    assert QUADS.digest() != DEFAULT.digest()
    with pytest.raises(ValueError, match="points"):
        FingerprintConfig(points=5)


def test_quad_keys_fit_their_width_and_a_disguised_copy_probes_them():
    rng = np.random.default_rng(4)
    ref = _random_peaks(rng)
    keys, tr = index_keys(ref, QUADS)
    assert key_bits(QUADS) == QUAD_KEY_BITS == 29 and int(keys.max()) < 1 << QUAD_KEY_BITS
    assert len(tr.inner) == 2 and np.all(tr.i < tr.inner[0]) and np.all(tr.inner[1] < tr.k)
    copy = Peaks(ref.t / 1.3, ref.f - 14, ref.m)      # 30 % faster and 14/3 semitones down
    probes, rows, qt = query_keys(copy, QUADS, neighbours=9, max_tempo_ratio=1.5, max_pitch_bins=20)
    assert np.isin(keys, probes).mean() > 0.95
    # no coarse field is expanded over the range: a quad probes only its fine fields' levels (about
    # 1.5 each of five), a triplet also every span and band level the range reaches
    t_probes, _, t_tr = query_keys(copy, DEFAULT, neighbours=8, max_tempo_ratio=1.5, max_pitch_bins=20)
    assert len(probes) / len(qt.i) < 10 < len(t_probes) / len(t_tr.i)


def test_unrelated_peaks_share_almost_no_quad_keys():
    rng = np.random.default_rng(5)
    a, _ = index_keys(_random_peaks(rng), QUADS)
    b, _ = index_keys(_random_peaks(rng), QUADS)
    assert np.isin(a, b).mean() < 0.01


@pytest.fixture(scope="module")
def songs():
    return {f"q{s}": song(s, 30.0) for s in SEEDS}


@pytest.fixture(scope="module")
def quad_prints(songs):
    return [fingerprint_samples(wid, y, QUADS) for wid, y in songs.items()]


def test_wide_keys_through_the_bucket_directory_equal_a_plain_search(tmp_path, quad_prints, monkeypatch):
    """A segment large enough for the directory (forced small here) finds each 29-bit key's
    entries by a binary search inside its directory bucket: exactly what a search of the whole array finds."""
    FingerprintIndex.open(tmp_path / "i", QUADS, create=True).add(quad_prints)
    plain = FingerprintIndex.open(tmp_path / "i", QUADS)
    monkeypatch.setattr(index_module, "DIRECTORY_MIN_HASHES", 1)
    directed = FingerprintIndex.open(tmp_path / "i", QUADS)
    seg = directed._segments[0]
    assert seg.starts is not None and seg.directory_shift == QUAD_KEY_BITS - index_module.DIRECTORY_BITS
    stored = np.asarray(seg.keys, dtype=np.int64)
    probes = np.concatenate([stored[::7], stored[::11] + 1, np.array([0, (1 << QUAD_KEY_BITS) - 1])])
    lo_a, hi_a = plain._segments[0].buckets(probes)
    lo_b, hi_b = seg.buckets(probes)
    np.testing.assert_array_equal(lo_a, lo_b)
    np.testing.assert_array_equal(hi_a, hi_b)
    assert (hi_b - lo_b).min() >= 0 and (hi_b[: len(stored[::7])] > lo_b[: len(stored[::7])]).all()


def test_a_quad_index_finds_pitch_shifted_sped_up_and_noisy_clips_and_nothing_in_unrelated_music(
        tmp_path, songs, quad_prints):
    FingerprintIndex.open(tmp_path / "q", QUADS, create=True).add(quad_prints)
    index = FingerprintIndex.open(tmp_path / "q", QUADS)
    matcher = Matcher(index, QUAD_QUERY)
    rng = np.random.default_rng(6)
    found = 0
    for n, (wid, y) in enumerate(songs.items()):
        a = int(rng.uniform(2, 18) * SR)
        if n % 3 == 0:     # sped up 15 % (pitch rises with it)
            clip = soxr.resample(y[a:a + int(5.75 * SR)], SR, SR / 1.15).astype(np.float32)
        elif n % 3 == 1:   # noise 10 dB under the music
            clip = y[a:a + 5 * SR]
            clip = clip + np.sqrt(np.mean(clip ** 2) / 10) * rng.standard_normal(len(clip)).astype(np.float32)
        else:              # clean 3 s
            clip = y[a:a + 3 * SR]
        reported = matcher.reported(clip)
        assert not reported or reported[0].work_id == wid
        found += bool(reported) and reported[0].work_id == wid
    assert found >= len(songs) - 1
    for s in (93, 94, 95):
        assert matcher.reported(song(s, 8.0)[SR:6 * SR]) == []
    # opening a quad index as a triplet one is refused, naming the rebuild
    with pytest.raises(IndexFormatError, match="rebuild"):
        FingerprintIndex.open(tmp_path / "q", DEFAULT)


def test_four_quad_shards_answer_as_one_quad_index(tmp_path, songs, quad_prints):
    one = FingerprintIndex.open(tmp_path / "one", QUADS, create=True)
    one.add(quad_prints)
    four = ShardedIndex.create(tmp_path / "four", 4, QUADS)
    four.add(quad_prints)
    rng = np.random.default_rng(7)
    for wid, y in list(songs.items())[:4]:
        a = int(rng.uniform(2, 18) * SR)
        clip = y[a:a + 5 * SR]
        got = [(m.work_id, m.score) for m in Matcher(four, QUAD_QUERY).identify(clip)[:1]]
        assert got == [(m.work_id, m.score) for m in Matcher(one, QUAD_QUERY).identify(clip)[:1]]
        assert got[0][0] == wid


def test_the_fingerprint_section_builds_a_quad_catalog_and_switching_back_asks_for_a_rebuild(home, tmp_path):
    """As a user turns quads on: in the configuration, then import and match; then off again."""
    import yaml
    from click.testing import CliRunner

    from earwitness.app.cli import main
    from earwitness.kernel import settings
    from fixtures.music import synthesize, write_wav

    user = home / "earwitness.yaml"
    user.write_text(yaml.safe_dump({"fingerprint": {"points": 4, "neighbours": 8, "triplets_per_anchor": 12},
                                    "matcher": {"neighbours": 9, "background_neighbours": 10}}))
    settings.configure(home)
    work = write_wav(tmp_path / "work.wav", synthesize(61, 30.0))
    clip = write_wav(tmp_path / "clip.wav", synthesize(61, 30.0)[22050 * 9:22050 * 15])
    runner = CliRunner()
    assert runner.invoke(main, ["catalog", "add", str(work), "--id", "w61", "--title", "T", "--artist", "A"]).exit_code == 0
    assert json.loads((home / "index" / "index.json").read_text())["config"]["points"] == 4
    found = runner.invoke(main, ["match", str(clip), "--json"])
    assert found.exit_code == 0 and json.loads(found.stdout.splitlines()[0])["match"]["work_id"] == "w61"

    user.unlink()                      # back to the shipped triplets, without rebuilding
    settings.configure(home)
    refused = runner.invoke(main, ["match", str(clip), "--json"])
    assert refused.exit_code != 0 and "index rebuild" in refused.output
    rebuilt = runner.invoke(main, ["index", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads((home / "index" / "index.json").read_text())["config"]["points"] == 3
    again = runner.invoke(main, ["match", str(clip), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout.splitlines()[0])["match"]["work_id"] == "w61"
