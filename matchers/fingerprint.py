"""Audio to fingerprint: samples -> log spectrogram -> peaks -> triplet keys (audfprint's chain)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from matchers.audio import DEFAULT_MAX_DURATION_S, load_audio
from matchers.config import FingerprintConfig
from matchers.hashes import index_keys
from matchers.index import WorkFingerprint
from matchers.peaks import Peaks, find_peaks
from matchers.spectrum import log_spectrogram


def peaks_of_samples(y: np.ndarray, cfg: FingerprintConfig, *, density: float | None = None,
                     neighbourhood: tuple[int, int] | None = None) -> Peaks:
    """Peaks of mono samples ``y`` at ``cfg.sample_rate`` (``density``, ``neighbourhood``: see :func:`find_peaks`)."""
    return find_peaks(log_spectrogram(y, cfg), cfg, density=density, neighbourhood=neighbourhood)


def fingerprint_samples(work_id: str, y: np.ndarray, cfg: FingerprintConfig, *, sha256: str = "") -> WorkFingerprint:
    """The index entry of one work from its samples ``y [shape=(n,)]`` at ``cfg.sample_rate``."""
    peaks = peaks_of_samples(y, cfg)
    keys, tr = index_keys(peaks, cfg)
    return WorkFingerprint(work_id=work_id, peaks=peaks, keys=keys, anchors=tr.i, thirds=tr.k - tr.i,
                           duration_s=len(y) / cfg.sample_rate, sha256=sha256)


def fingerprint_file(work_id: str, path: str | os.PathLike, cfg: FingerprintConfig, *,
                     max_duration_s: float = DEFAULT_MAX_DURATION_S) -> WorkFingerprint:
    """Decode ``path`` and fingerprint it; ``sha256`` is the file's hash (re-import skips unchanged files)."""
    y = load_audio(path, sr=cfg.sample_rate, max_duration_s=max_duration_s)
    return fingerprint_samples(work_id, y, cfg, sha256=file_sha256(path))


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(Path(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
