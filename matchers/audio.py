"""Decode any audio or video file to one float32 signal at the analysis rate.

Decoding runs in-process: WAV, FLAC and Ogg/Vorbis through libsndfile, every other
container (AAC/M4A, MP3, video files) through PyAV's bundled FFmpeg libraries, so a
5 s upload costs a few milliseconds instead of an ffmpeg process start. The ``ffmpeg``
program remains the last resort for a file neither library opens.

Channels are kept apart until the end: a stereo file whose channels cancel in a mono
mix (right = -left plays normally and mixes to silence, an evasion) is fingerprinted
from its side signal, and a file is "silent" only when every channel is. Every way a
file can be unusable ends in :class:`~matchers.errors.AudioError` with a reason a
person can act on.
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
# a mono mix this much quieter than the loudest channel (-12 dB) has lost the music to cancellation
CANCELLED_MIX_RATIO = 0.25


def load_audio(path: str | os.PathLike, *, sr: int, max_duration_s: float = DEFAULT_MAX_DURATION_S) -> np.ndarray:
    """Decode ``path`` to one float32 signal at ``sr`` Hz (see :func:`fold_channels`).

    Returns ``y : np.ndarray [shape=(n,), dtype=float32]`` with ``n / sr`` seconds.
    Raises AudioError if the file is missing, empty, undecodable, shorter than
    one second, longer than ``max_duration_s`` or silent in every channel.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "no such file")
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(p, "empty file")
    channels, native_sr = None, None
    if p.suffix.lower() in _SNDFILE_SUFFIXES:
        channels, native_sr = _sndfile_decode(p, max_duration_s)
    if channels is None:
        channels, native_sr = _av_decode(p, max_duration_s)
    if channels is None:
        channels, native_sr = _ffmpeg_decode(p, sr, max_duration_s), sr
    _check_channels(channels, native_sr, p)
    y = fold_channels(channels)
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="MQ")
    return check_samples(y, sr, name=p, silence_checked=True)


def fold_channels(channels: np.ndarray) -> np.ndarray:
    """One signal from ``channels [shape=(n_channels, n)]``: the mono mix, unless the channels cancel in it.

    When the mix is more than 12 dB quieter than the loudest channel (right = -left, or
    a partly inverted pair), a stereo file gives its side signal ``(left - right) / 2``
    and any other layout its loudest channel: the music a listener hears is there.
    """
    channels = np.asarray(channels, dtype=np.float32)
    if channels.shape[0] == 1:
        return channels[0]
    mix = channels.mean(axis=0)
    loudness = _rms(channels)
    if _rms(mix) >= CANCELLED_MIX_RATIO * float(loudness.max()):
        return mix
    if channels.shape[0] == 2:
        return 0.5 * (channels[0] - channels[1])
    return channels[int(np.argmax(loudness))]


def check_samples(y: np.ndarray, sr: int, *, name: str | os.PathLike = "<samples>",
                  silence_checked: bool = False) -> np.ndarray:
    """Validate decoded samples: finite, at least a second long, not silent. Returns float32 ``y``.

    ``silence_checked``: the caller already found a channel with signal (a folded
    signal may be quieter than that channel; it is not silence).
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(name, f"expected mono samples, got shape {y.shape}")
    if len(y) < MIN_DURATION_S * sr:
        raise AudioError(name, f"too short: {len(y) / sr:.2f} s (at least {MIN_DURATION_S:.0f} s needed)")
    if not np.all(np.isfinite(y)):
        raise AudioError(name, "samples contain NaN or infinity")
    if not silence_checked and float(_rms(y[None, :])[0]) < SILENCE_RMS:
        raise AudioError(name, "silent: no audio signal to fingerprint")
    return y


def _check_channels(channels: np.ndarray, sr: int, name: Path) -> None:
    """The checks that need every channel: long enough, finite, and not silent in all of them."""
    if channels.shape[1] < MIN_DURATION_S * sr:
        raise AudioError(name, f"too short: {channels.shape[1] / sr:.2f} s (at least {MIN_DURATION_S:.0f} s needed)")
    if not np.all(np.isfinite(channels)):
        raise AudioError(name, "samples contain NaN or infinity")
    if float(_rms(channels).max()) < SILENCE_RMS:
        raise AudioError(name, "silent in every channel: no audio signal to fingerprint")


def _rms(channels: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(channels, dtype=np.float64), axis=-1))


def _sndfile_decode(p: Path, max_duration_s: float) -> tuple[np.ndarray | None, int | None]:
    try:
        info = soundfile.info(str(p))
        if info.frames / info.samplerate > max_duration_s:
            raise AudioError(p, f"too long: {info.frames / info.samplerate:.0f} s > limit {max_duration_s:.0f} s")
        data, native_sr = soundfile.read(str(p), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception:
        return None, None  # a mislabelled or damaged file: let the other decoders have a go and report
    return np.ascontiguousarray(data.T), int(native_sr)


def _av_decode(p: Path, max_duration_s: float) -> tuple[np.ndarray | None, int | None]:
    """Decode the first audio stream with PyAV. ``(None, None)`` when PyAV cannot open the file at all."""
    try:
        import av
    except ImportError:  # pragma: no cover - a dependency; ffmpeg still works without it
        return None, None
    try:
        container = av.open(str(p))
    except av.FFmpegError:
        return None, None
    with container:
        if not container.streams.audio:
            raise AudioError(p, "no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        limit = int((max_duration_s + 1) * rate) if rate else None
        parts, n = [], 0
        resampler = av.AudioResampler(format="fltp")  # any sample format to planar float, layout and rate kept
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    x = out.to_ndarray()
                    parts.append(x)
                    n += x.shape[1]
                    rate = out.sample_rate
                if limit is not None and n > limit:
                    raise AudioError(p, f"too long: more than the limit of {max_duration_s:.0f} s")
        except av.FFmpegError as exc:
            if not parts:
                raise AudioError(p, f"not decodable audio: {exc}") from None
            # a damaged tail: keep what decoded, as ffmpeg does
        if not parts:
            raise AudioError(p, "no audio stream")
    channels = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    if channels.shape[1] > max_duration_s * rate:
        raise AudioError(p, f"too long: more than the limit of {max_duration_s:.0f} s")
    return np.ascontiguousarray(channels, dtype=np.float32), int(rate)


def _ffmpeg_decode(p: Path, sr: int, max_duration_s: float) -> np.ndarray:
    """Last resort: the ffmpeg program, two channels kept apart. Returns ``[shape=(2, n)]`` at ``sr``."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioError(p, "cannot decode this format: ffmpeg is not installed")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(p), "-vn", "-ac", "2", "-ar", str(sr),
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
    if len(y) // 2 > max_duration_s * sr:
        raise AudioError(p, f"too long: more than the limit of {max_duration_s:.0f} s")
    return np.ascontiguousarray(y[: len(y) // 2 * 2].reshape(-1, 2).T)
