"""Decode any audio or video file to mono float32 at the analysis rate.

WAV, FLAC and Ogg/Vorbis are read in-process (libsndfile: no process start, which
dominates the cost of a 5 s clip); anything else goes through ``ffmpeg``. Every
way a file can be unusable ends in :class:`~matchers.errors.AudioError` with a
reason a person can act on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile
import soxr

from matchers.errors import AudioError

_SNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"}
MIN_DURATION_S = 1.0
SILENCE_RMS = 1e-4          # about -80 dBFS: nothing to fingerprint
DEFAULT_MAX_DURATION_S = 4 * 3600.0


def load_audio(path: str | os.PathLike, *, sr: int, max_duration_s: float = DEFAULT_MAX_DURATION_S) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sr`` Hz.

    Returns ``y : np.ndarray [shape=(n,), dtype=float32]`` with ``n / sr`` seconds.
    Raises AudioError if the file is missing, empty, undecodable, shorter than
    one second, longer than ``max_duration_s`` or silent.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "no such file")
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(p, "empty file")
    y, native_sr = None, None
    if p.suffix.lower() in _SNDFILE_SUFFIXES:
        try:
            info = soundfile.info(str(p))
            if info.frames / info.samplerate > max_duration_s:
                raise AudioError(p, f"too long: {info.frames / info.samplerate:.0f} s > limit {max_duration_s:.0f} s")
            data, native_sr = soundfile.read(str(p), dtype="float32", always_2d=True)
            y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
        except AudioError:
            raise
        except Exception:
            y = None  # a mislabelled or damaged file: let ffmpeg have a go and report
    if y is None:
        y = _ffmpeg_decode(p, sr, max_duration_s)
        native_sr = sr
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="MQ")
    return check_samples(y, sr, name=p)


def check_samples(y: np.ndarray, sr: int, *, name: str | os.PathLike = "<samples>") -> np.ndarray:
    """Validate decoded samples: finite, at least a second long, not silent. Returns float32 ``y``."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(name, f"expected mono samples, got shape {y.shape}")
    if len(y) < MIN_DURATION_S * sr:
        raise AudioError(name, f"too short: {len(y) / sr:.2f} s (at least {MIN_DURATION_S:.0f} s needed)")
    if not np.all(np.isfinite(y)):
        raise AudioError(name, "samples contain NaN or infinity")
    if float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) < SILENCE_RMS:
        raise AudioError(name, "silent: no audio signal to fingerprint")
    return y


def _ffmpeg_decode(p: Path, sr: int, max_duration_s: float) -> np.ndarray:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioError(p, "cannot decode this format: ffmpeg is not installed")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(p), "-vn", "-ac", "1", "-ar", str(sr),
           "-t", str(max_duration_s + 1), "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=max(60.0, max_duration_s / 20))
    except subprocess.TimeoutExpired:
        raise AudioError(p, "decoding timed out") from None
    y = np.frombuffer(proc.stdout, dtype="<f4")
    if proc.returncode != 0 and len(y) == 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(p, "not decodable audio" + (f": {msg[-1]}" if msg else ""))
    if len(y) == 0:
        raise AudioError(p, "no audio stream")
    if len(y) > max_duration_s * sr:
        raise AudioError(p, f"too long: more than the limit of {max_duration_s:.0f} s")
    return y.copy()
