"""What uploads really do: channels that cancel, speech louder than the music, medleys and loops, a wide range.

Each test is a failure the matcher had (issue 17): a cancelling stereo file was
refused as silent, speech 6 dB over the music hid it (3 of 12 generated clips found), ``ref_offset_s`` was printed
beside ``clip_offset_s`` as if they were one pair of positions, and widening the
search range gave unrelated music more chances to pass.
"""

import dataclasses
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from matchers.audio import fold_channels, load_audio
from matchers.catalog import CatalogEntry, import_entries
from matchers.config import DEFAULT
from matchers.errors import AudioError
from matchers.index import FingerprintIndex
from matchers.match import Matcher, range_penalty
from tests.matchers.generated import SR, song

PAIR_TOL_S = 0.5


def _cut(y, start_s, length_s):
    return y[int(start_s * SR): int((start_s + length_s) * SR)]


def _cancelling_m4a(y: np.ndarray, path: Path) -> Path:
    """A 44.1 kHz stereo AAC upload whose right channel is the left one inverted (plays normally, mono mix = 0)."""
    wav = path.with_suffix(".wav")
    soundfile.write(wav, np.stack([y, -y], axis=1), SR, subtype="FLOAT")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-ar", "44100", "-c:a", "aac",
                    "-b:a", "128k", str(path)], check=True)
    return path


def _speech(n: int, seed: int = 3) -> np.ndarray:
    """espeak-ng speech at the analysis rate, looped with short pauses to ``n`` samples (deterministic)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "voice.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "170", "-w", str(out),
                        "So today I want to show you how I set up the whole room, and honestly it took "
                        "much longer than I thought it would"], check=True, capture_output=True)
        v, vsr = soundfile.read(out, dtype="float32")
    v = soxr.resample(v, vsr, SR).astype(np.float32)
    reps = np.concatenate([v, np.zeros(int(0.3 * SR), np.float32)] * (n // len(v) + 2))
    start = np.random.default_rng(seed).integers(0, len(reps) - n)
    return reps[start:start + n]


def _over(music: np.ndarray, speech: np.ndarray, louder_db: float) -> np.ndarray:
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    return music + speech * (rms(music) / rms(speech) * 10 ** (louder_db / 20))


def test_stereo_whose_channels_cancel_is_found(matcher, catalog_songs, tmp_path):
    path = _cancelling_m4a(_cut(catalog_songs["w14"], 12.0, 5.0), tmp_path / "cancel.m4a")
    res = matcher.identify_file(path)
    assert res.error is None, res.error
    assert res.match is not None and res.match.work_id == "w14"
    assert abs(res.match.work_at_clip_start_s - 12.0) <= PAIR_TOL_S


def test_silent_only_when_every_channel_is(tmp_path):
    left = np.zeros(3 * SR, np.float32)
    right = 0.1 * np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR).astype(np.float32)
    one_sided = tmp_path / "one_sided.wav"
    soundfile.write(one_sided, np.stack([left, right], axis=1), SR)
    assert np.sqrt(np.mean(load_audio(one_sided, sr=SR) ** 2)) > 0.01
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros((3 * SR, 2), np.float32), SR)
    with pytest.raises(AudioError, match="silent in every channel"):
        load_audio(silent, sr=SR)


def test_fold_channels_keeps_an_ordinary_mix_and_rescues_a_cancelled_one():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SR).astype(np.float32)
    assert np.allclose(fold_channels(np.stack([x, 0.8 * x])), 0.9 * x)
    assert np.allclose(fold_channels(np.stack([x, -x])), x)


def test_catalog_import_accepts_a_track_whose_channels_cancel(tmp_path, catalog_songs):
    path = _cancelling_m4a(_cut(catalog_songs["w11"], 0.0, 20.0), tmp_path / "cancelling_track.m4a")
    index = FingerprintIndex.open(tmp_path / "index", DEFAULT, create=True)
    [outcome] = import_entries(index, [CatalogEntry("cancelling", path)])
    assert outcome.status == "added", outcome.error
    assert outcome.n_hashes > 100


def test_speech_6db_louder_than_the_music_is_found(matcher, catalog_songs):
    """Twelve 5 s clips (two places in each of six works) under speech 6 dB louder than the music.

    The first pass alone finds 3 of them; the background pass (dense peaks that hold their
    level, searched near the original pitch and tempo) finds 8, every one the right work at
    the right place.
    """
    right = []
    for wid, y in catalog_songs.items():
        for start in (8.0, 21.0):
            music = _cut(y, start, 5.0)
            found = matcher.reported(_over(music, _speech(len(music), seed=int(start)), 6.0))
            if found:
                assert found[0].work_id == wid, (wid, start, found[0].to_dict())
                assert abs(found[0].work_at_clip_start_s - start) <= PAIR_TOL_S, found[0].to_dict()
                right.append((wid, start))
    assert len(right) >= 8, right


def test_unrelated_music_under_speech_is_not_reported(matcher):
    """The background pass is a second chance for chance too: unrelated music under the same speech stays silent."""
    for seed in range(931, 937):
        clip = _over(_cut(song(seed, 12.0), 2.0, 5.0), _speech(5 * SR, seed=seed), 6.0)
        assert matcher.reported(clip) == [], seed


def test_held_keeps_a_steady_partial_and_drops_a_glide():
    from matchers.peaks import held
    S = np.full((40, 60), -60.0, dtype=np.float32)
    S[5:30, 10] = 0.0                                   # a partial held for 25 frames
    for t in range(5, 30):                               # a voice's harmonic gliding a bin per frame
        S[t, 20 + t] = 0.0
    keep = held(S, 2, 4.0)
    assert keep[5:28, 10].all()
    assert not any(keep[t, 20 + t] for t in range(5, 28))


def test_a_medley_gives_each_work_its_own_pair_of_positions(matcher, catalog_songs):
    """5 s of w12 from 10 s, then 5 s of w14 from 20 s: clip 0-5 = w12 10-15, clip 5-10 = w14 20-25."""
    clip = np.concatenate([_cut(catalog_songs["w12"], 10.0, 5.0), _cut(catalog_songs["w14"], 20.0, 5.0)])
    found = {m.work_id: m for m in matcher.reported(clip)}
    assert set(found) == {"w12", "w14"}, found
    for wid, clip_at, work_at in (("w12", 0.0, 10.0), ("w14", 5.0, 20.0)):
        p = found[wid].pair
        assert abs(p.clip_start_s - clip_at) <= PAIR_TOL_S and abs(p.clip_end_s - (clip_at + 5)) <= PAIR_TOL_S, p
        assert abs(p.work_start_s - work_at) <= PAIR_TOL_S and abs(p.work_end_s - (work_at + 5)) <= PAIR_TOL_S, p
        # the pair is one stretch seen twice: its two ends are the same moments in clip and work
        assert abs((p.work_start_s - p.clip_start_s) - (work_at - clip_at)) <= PAIR_TOL_S


def test_a_looping_work_says_so_and_lists_the_other_positions(tmp_path):
    loop = song(21, 15.0)
    work = np.concatenate([loop, loop, song(22, 10.0)])        # the first 15 s play twice
    index = FingerprintIndex.open(tmp_path / "index", DEFAULT, create=True)
    from matchers.fingerprint import fingerprint_samples
    index.add([fingerprint_samples("looping", work, DEFAULT)])
    m = Matcher(FingerprintIndex.open(tmp_path / "index"))
    found = m.reported(_cut(loop, 4.0, 5.0))
    assert found and found[0].work_id == "looping"
    best = found[0]
    positions = sorted([best.pair.work_start_s] + [r.work_start_s for r in best.repeats])
    assert best.loops and len(positions) == 2, best
    assert abs(positions[0] - 4.0) <= PAIR_TOL_S and abs(positions[1] - 19.0) <= PAIR_TOL_S, best.to_dict()


def _best_scores(catalog_index, seeds=(931, 932, 933, 934, 935, 936)):
    narrow_q = dataclasses.replace(Matcher(catalog_index).qcfg, max_pitch_semitones=4.0, max_tempo_ratio=1.35)
    wide_q = dataclasses.replace(narrow_q, max_pitch_semitones=12.0, max_tempo_ratio=2.0)
    narrow, wide = Matcher(catalog_index, narrow_q), Matcher(catalog_index, wide_q)
    best = lambda m, y: max([x.score for x in m.identify(y)] + [0.0])  # noqa: E731
    clips = [_cut(song(seed, 12.0), 2.0, 5.0) for seed in seeds]
    return narrow_q, wide_q, [best(narrow, c) for c in clips], [best(wide, c) for c in clips]


def test_a_wider_range_pays_for_its_search_and_unrelated_music_stays_under_the_threshold(catalog_index):
    narrow_q, wide_q, _, wide_scores = _best_scores(catalog_index)
    assert range_penalty(wide_q) > range_penalty(narrow_q) == 0.0
    assert max(wide_scores) < wide_q.threshold


@pytest.mark.xfail(strict=True, reason="issue 17 requirement not reached: with near misses scored against their decoys "
                                        "(DECOY_BELOW), the full range raises unrelated music's best score (9.2 against "
                                        "6.6 here; +1.4 at the 90th percentile of 60 clips): the range penalty "
                                        "under-corrects (README, 'The threshold')")
def test_a_wider_range_does_not_raise_the_score_of_unrelated_music(catalog_index):
    _, _, narrow_scores, wide_scores = _best_scores(catalog_index)
    assert max(wide_scores) <= max(narrow_scores), (narrow_scores, wide_scores)


def test_the_version_changes_with_the_range(catalog_index):
    a = Matcher(catalog_index)
    b = Matcher(catalog_index, dataclasses.replace(a.qcfg, max_pitch_semitones=6.0))
    assert a.version != b.version


def test_a_result_says_how_close_chance_came(matcher, catalog_songs, tmp_path):
    """``top_score`` is the best score of any work, reported or not: the margin a benchmark quotes."""
    unrelated = tmp_path / "unrelated.wav"
    soundfile.write(unrelated, _cut(song(941, 12.0), 2.0, 5.0), SR)
    res = matcher.identify_file(unrelated)
    assert res.match is None and 0.0 < res.top_score < matcher.qcfg.threshold, res
    copy = tmp_path / "copy.wav"
    soundfile.write(copy, _cut(catalog_songs["w13"], 4.0, 5.0), SR)
    res = matcher.identify_file(copy)
    assert res.match is not None and res.top_score == res.match.score
