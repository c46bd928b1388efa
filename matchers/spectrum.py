"""Log-frequency magnitude spectrogram.

On a log-frequency axis a pitch shift is a translation (3 bins per semitone by
default) and a tempo change is a scaling of the time axis: the two facts the
invariant hashes in :mod:`matchers.hashes` are built on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from matchers.config import FingerprintConfig


def log_bin_frequencies(cfg: FingerprintConfig) -> np.ndarray:
    """Centre frequency of every log bin, Hz. Shape ``(n_bins,)``; bin k is ``fmin * 2**(k / bins_per_octave)``."""
    n = int(np.floor(cfg.bins_per_octave * np.log2(cfg.fmax / cfg.fmin))) + 1
    return cfg.fmin * 2.0 ** (np.arange(n) / cfg.bins_per_octave)


@lru_cache(maxsize=8)
def _filterbank(cfg: FingerprintConfig) -> tuple[np.ndarray, int, int]:
    """Triangular log-spaced filters over the FFT bins they touch.

    Returns ``(weights [shape=(lo_hi, n_bins)], lo, hi)``: FFT bins ``lo:hi`` times
    weights gives the log spectrum. Below the FFT's resolution a filter is widened
    to one FFT bin each side, i.e. it interpolates.
    """
    centres = log_bin_frequencies(cfg)
    df = cfg.sample_rate / cfg.n_fft
    fft_freqs = np.arange(cfg.n_fft // 2 + 1) * df
    step = 2.0 ** (1.0 / cfg.bins_per_octave)
    lo_edge = np.minimum(centres / step, centres - df)
    hi_edge = np.maximum(centres * step, centres + df)
    f = fft_freqs[:, None]
    up = (f - lo_edge) / (centres - lo_edge)
    down = (hi_edge - f) / (hi_edge - centres)
    w = np.clip(np.minimum(up, down), 0.0, None)
    w /= w.sum(axis=0, keepdims=True)
    used = np.nonzero(w.sum(axis=1) > 0)[0]
    lo, hi = int(used[0]), int(used[-1]) + 1
    return np.ascontiguousarray(w[lo:hi].astype(np.float32)), lo, hi


def log_spectrogram(y: np.ndarray, cfg: FingerprintConfig) -> np.ndarray:
    """Log-magnitude spectrogram on the log-frequency axis.

    ``y``: mono float32 at ``cfg.sample_rate``. Returns ``S [shape=(n_frames, n_bins), dtype=float32]``
    in dB; frame ``t`` is centred at ``t * hop_length / sample_rate`` seconds.
    """
    n_fft, hop = cfg.n_fft, cfg.hop_length
    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, (n_fft // 2, n_fft // 2))
    frames = sliding_window_view(padded, n_fft)[::hop]
    window = _hann(n_fft)
    weights, lo, hi = _filterbank(cfg)
    out = np.empty((len(frames), weights.shape[1]), dtype=np.float32)
    block = 4096  # frames per FFT batch: bounds memory on hour-long tracks
    for a in range(0, len(frames), block):
        spec = scipy.fft.rfft(frames[a:a + block] * window, axis=1)[:, lo:hi]
        power = spec.real ** 2 + spec.imag ** 2
        out[a:a + block] = power.astype(np.float32) @ weights
    np.maximum(out, 1e-10, out=out)
    np.log10(out, out=out)
    out *= 10.0
    return out


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n + 1)[:-1].astype(np.float32)
