"""Excerpts and alignment pictures: cut with real ffmpeg from real files, checked by their content."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from webapp import media
from webapp.errors import MediaError

SR = media.SR


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _envelope_corr(a: np.ndarray, b: np.ndarray, hop: int = 512) -> float:
    """Correlation of frame-energy envelopes (robust to codec and resampling phase)."""
    n = min(len(a), len(b)) // hop * hop
    ea = np.sqrt((a[:n].reshape(-1, hop) ** 2).mean(axis=1))
    eb = np.sqrt((b[:n].reshape(-1, hop) ** 2).mean(axis=1))
    return _corr(ea, eb)


def _peak_hz(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * SR / len(y))


def test_plan_maps_clip_time_to_reference_time():
    det = SimpleNamespace(clip_offset_s=5.0, ref_offset_s=10.0, duration_s=8.0, tempo_ratio=1.25,
                          pitch_semitones=-2.0)
    p = media.plan(det, lead_in_s=1.0, max_excerpt_s=30.0)
    assert p.clip_start_s == 4.0 and p.clip_len_s == 9.0
    assert p.ref_start_s == pytest.approx(10.0 + 4.0 * 1.25)
    assert p.ref_len_s == pytest.approx(9.0 * 1.25)
    short = media.plan(SimpleNamespace(**{**det.__dict__, "clip_offset_s": 0.3}), lead_in_s=1.0)
    assert short.clip_start_s == 0.0 and short.lead_in_s == pytest.approx(0.3)
    with pytest.raises(MediaError, match="tempo ratio"):
        media.plan(SimpleNamespace(**{**det.__dict__, "tempo_ratio": 9.0}))


def test_decode_pads_with_silence_before_and_after_the_file(tmp_path):
    from fixtures.music import write_wav
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)).astype(np.float32)
    path = write_wav(tmp_path / "tone.wav", tone)
    y = media.decode(path, start_s=-0.5, length_s=2.0)
    assert len(y) == 2 * SR
    assert np.abs(y[: SR // 2 - 10]).max() == 0.0
    assert np.abs(y[SR // 2 + 10: SR + SR // 2 - 10]).max() > 0.4
    assert np.abs(y[SR + SR // 2 + 10:]).max() == 0.0
    with pytest.raises(MediaError, match="not found"):
        media.decode(tmp_path / "nope.wav", start_s=0, length_s=1)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(MediaError, match="could not decode"):
        media.decode(tmp_path / "junk.wav", start_s=0, length_s=1)


def test_transform_moves_pitch_and_tempo_independently():
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(4 * SR) / SR)).astype(np.float32)
    up = media.transform(tone, pitch_semitones=2.0, tempo_ratio=1.0)
    assert len(up) == len(tone)
    assert _peak_hz(up[SR // 2: -SR // 2]) == pytest.approx(440 * 2 ** (2 / 12), rel=0.01)
    fast = media.transform(tone, pitch_semitones=0.0, tempo_ratio=1.25)
    assert len(fast) == round(len(tone) / 1.25)
    assert _peak_hz(fast[SR // 2: -SR // 2]) == pytest.approx(440, rel=0.01)
    slow_low = media.transform(tone, pitch_semitones=-12.0, tempo_ratio=0.8)
    assert _peak_hz(slow_low[SR // 2: -SR // 2]) == pytest.approx(220, rel=0.01)


def _excerpts(home, store, detection_id):
    from earwitness.kernel.store.models import Detection
    with store.session() as s:
        det = s.get(Detection, detection_id)
        return media.Excerpts(home / "webapp" / "cache", det, clip_path=home / det.clip.media_path,
                              ref_path=home / det.work.source_path, lead_in_s=1.0)


def test_excerpts_line_up_with_the_clip(home, store, seeded):
    """The transformed reference excerpt must sound like the clip excerpt, sample for sample in time."""
    for det_id, min_corr in ((seeded.plain, 0.95), (seeded.shifted, 0.8)):
        ex = _excerpts(home, store, det_id)
        clip = media.read_wav(ex.wav("clip"))
        ref_t = media.read_wav(ex.wav("ref-transformed"))
        ref = media.read_wav(ex.wav("ref"))
        assert len(clip) == len(ref_t) == round(ex.plan.clip_len_s * SR)
        assert len(ref) == pytest.approx(ex.plan.ref_len_s * SR, abs=1)
        lead = int(ex.plan.lead_in_s * SR)
        assert _envelope_corr(clip[lead:], ref_t[lead:]) > min_corr
        # shifted by half a second, the same excerpts no longer line up: the check can fail
        assert _envelope_corr(clip[lead:], ref_t[lead + SR // 2:]) < min_corr - 0.2
    ex = _excerpts(home, store, seeded.shifted)
    clip, ref = media.read_wav(ex.wav("clip")), media.read_wav(ex.wav("ref"))
    assert _envelope_corr(clip, ref) < _envelope_corr(clip, media.read_wav(ex.wav("ref-transformed")))


def test_excerpts_are_cached_and_keyed_by_their_inputs(home, store, seeded):
    ex = _excerpts(home, store, seeded.plain)
    first = ex.wav("clip")
    mtime = first.stat().st_mtime_ns
    assert _excerpts(home, store, seeded.plain).wav("clip") == first and first.stat().st_mtime_ns == mtime
    (home / "media" / "fixture" / "v1.wav").touch()
    assert _excerpts(home, store, seeded.plain).wav("clip") != first
    with pytest.raises(MediaError, match="unknown excerpt"):
        ex.wav("both")


def test_missing_reference_is_an_expected_error(home, store, seeded):
    (home / "catalog" / "demo042.wav").unlink()
    with pytest.raises(MediaError, match="reference audio not found"):
        _excerpts(home, store, seeded.plain).wav("ref")


def test_alignment_picture_draws_spectrograms_and_matched_points(home, store, seeded):
    ex = _excerpts(home, store, seeded.shifted)
    plain = Image.open(ex.picture(None)).convert("RGB")
    assert plain.size[0] == 960 and plain.size[1] > 400
    pixels = np.asarray(plain).reshape(-1, 3)
    assert len(np.unique(pixels[::7], axis=0)) > 50     # a spectrogram, not a blank canvas
    green = lambda img: int(((np.asarray(img)[..., 1] > 230) & (np.asarray(img)[..., 0] < 90)).sum())  # noqa: E731
    assert green(plain) == 0
    p = ex.plan
    # the matcher's contract: clip peaks, reference peaks in clip time (pitch applied), matched clip peaks
    alignment = {"clip": [[3.0, 1000.0], [4.0, 800.0]], "reference": [[3.0, 1000.0], [5.0, 600.0]],
                 "matched": [[3.0, 1000.0]], "transform": {}}
    pts = media.excerpt_points(alignment, p)
    assert pts["matched"] == [pytest.approx((3.0 - p.clip_start_s, 1000.0))]
    assert pts["reference"][1] == pytest.approx((5.0 - p.clip_start_s, 600.0))
    marked = Image.open(ex.picture(lambda: alignment)).convert("RGB")
    assert green(marked) > 20


def test_picture_png_bytes_are_valid_for_silence():
    png = media.draw_alignment(np.zeros(SR, np.float32), np.zeros(SR, np.float32), lead_in_s=0.5)
    assert Image.open(io.BytesIO(png)).format == "PNG"


def test_concurrent_requests_cut_each_excerpt_once(home, store, seeded, monkeypatch):
    import threading
    calls = []
    real = media.decode
    monkeypatch.setattr(media, "decode", lambda *a, **k: (calls.append(a[0]), real(*a, **k))[1])
    ex = _excerpts(home, store, seeded.plain)
    threads = [threading.Thread(target=ex.wav, args=("ref-transformed",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
