"""The one definition of a disguise: what it does to audio and what the matcher should report for it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixtures.disguise import Disguise, apply
from fixtures.errors import FixtureError

SR = 8000


def _tone(hz: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(spec)])


@pytest.mark.parametrize("d,pitch,tempo,length", [
    (Disguise("pitch", 3.0), 3.0, 1.0, 2.0),
    (Disguise("tempo", 1.25), 0.0, 1.25, 1.6),
    (Disguise("speed", 1.25), 12 * math.log2(1.25), 1.25, 1.6),
])
def test_each_kind_changes_pitch_and_length_as_it_says(d, pitch, tempo, length):
    y = apply(_tone(440.0), SR, d)
    assert d.pitch_semitones == pytest.approx(pitch) and d.tempo_ratio == pytest.approx(tempo)
    assert len(y) / SR == pytest.approx(length, abs=0.05)
    assert 12 * math.log2(_peak_hz(y) / 440.0) == pytest.approx(pitch, abs=0.15)
    assert d.source_seconds(length) == pytest.approx(2.0 if d.kind != "pitch" else length)


def test_a_bad_disguise_is_refused():
    with pytest.raises(FixtureError, match="unknown disguise"):
        Disguise("reverse", 1.0)
    with pytest.raises(FixtureError, match="positive"):
        Disguise("speed", 0.0)
