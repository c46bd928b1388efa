"""Disguised copies of generated songs are found with the right offset and transform; other music is not."""


import numpy as np
import pytest

from fixtures.disguise import Disguise, apply as apply_disguise
from tests.matchers.generated import SR, song

SEMITONE_TOL = 0.5
TEMPO_TOL = 0.02
OFFSET_TOL_S = 0.5


def _disguised(kind: str, amount: float):
    """The fixture platform's own disguise (one definition for the platform, the benches and these tests)."""
    d = Disguise(kind, amount)
    return lambda y: apply_disguise(y, SR, d)


def _noise(y: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = rng.standard_normal(len(y)).astype(np.float32)
    n *= np.sqrt(np.mean(y ** 2) / np.mean(n ** 2)) / 10 ** (snr_db / 20)
    return y + n


def _cut(y: np.ndarray, start_s: float, length_s: float) -> np.ndarray:
    return y[int(start_s * SR): int((start_s + length_s) * SR)]


# (name, transform of the source excerpt, expected pitch in semitones, expected tempo ratio, source seconds)
DISGUISES = [
    ("clean", lambda y: y, 0.0, 1.0, 8.0),
    ("pitch_up_2", _disguised("pitch", 2.0), 2.0, 1.0, 8.0),
    ("pitch_down_2", _disguised("pitch", -2.0), -2.0, 1.0, 8.0),
    ("tempo_up_10", _disguised("tempo", 1.1), 0.0, 1.1, 8.8),
    ("tempo_down_10", _disguised("tempo", 0.9), 0.0, 0.9, 7.2),
    ("speed_up_10", _disguised("speed", 1.1), 12 * np.log2(1.1), 1.1, 8.8),
    ("speed_down_15", _disguised("speed", 0.85), 12 * np.log2(0.85), 0.85, 6.8),
    ("noise_10db", lambda y: _noise(y, 10.0), 0.0, 1.0, 8.0),
]


@pytest.mark.parametrize("name,disguise,pitch,tempo,span", DISGUISES, ids=[d[0] for d in DISGUISES])
def test_disguised_clip_is_found_with_offset_and_transform(matcher, catalog_songs, name, disguise, pitch, tempo, span):
    start = 13.3
    clip = disguise(_cut(catalog_songs["w13"], start, span))
    found = [m for m in matcher.identify(clip) if m.score >= matcher.qcfg.threshold]
    assert found, f"{name}: no match"
    best = found[0]
    assert best.work_id == "w13"
    assert abs(best.ref_offset_s - start) <= OFFSET_TOL_S, best
    assert abs(best.pitch_semitones - pitch) <= SEMITONE_TOL, best
    assert abs(best.tempo_ratio - tempo) / tempo <= TEMPO_TOL, best


def test_clip_of_unrelated_music_is_not_matched(matcher):
    for seed in (901, 902, 903, 904):
        clip = _cut(song(seed, 20.0), 5.0, 10.0)
        found = [m for m in matcher.identify(clip) if m.score >= matcher.qcfg.threshold]
        assert not found, f"seed {seed} matched {found[0]}"


def test_noise_alone_is_not_matched(matcher):
    rng = np.random.default_rng(5)
    found = [m for m in matcher.identify(rng.standard_normal(10 * SR).astype(np.float32) * 0.1)
             if m.score >= matcher.qcfg.threshold]
    assert not found


def test_long_clip_is_searched_in_windows(matcher, catalog_songs):
    """A minute of other music with a catalog excerpt in the middle (a live-stream window)."""
    y = np.concatenate([song(905, 25.0), _cut(catalog_songs["w15"], 10.0, 15.0), song(906, 25.0)])
    found = [m for m in matcher.identify(y) if m.score >= matcher.qcfg.threshold]
    assert [m.work_id for m in found] == ["w15"]
    m = found[0]
    assert abs(m.clip_offset_s - 25.0) < 2.0
    # the work's 10 s mark sits at 25 s into the window: the work started 15 s before the clip did
    assert abs(m.ref_offset_s - (10.0 - 25.0)) < 1.0


def test_score_is_calibrated_across_clip_lengths(matcher, catalog_songs):
    """The same music gives more evidence in a longer clip; chance never passes, whatever the length."""
    short = matcher.identify(_noise(_cut(catalog_songs["w12"], 5.0, 5.0), 20.0))
    long = matcher.identify(_noise(_cut(catalog_songs["w12"], 5.0, 20.0), 20.0))
    assert short and long and long[0].score > short[0].score
    for length in (5.0, 20.0, 60.0):
        other = _cut(song(907, 70.0), 0.0, length)
        assert all(m.score < matcher.qcfg.threshold for m in matcher.identify(other))
