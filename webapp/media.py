"""Audio excerpts and alignment pictures for the review page.

For a detection the reviewer hears three excerpts that all start at the same
moment of the match (``lead_in_s`` before it) and last as long:

* ``clip``: the captured clip from ``clip_offset_s - lead_in_s``;
* ``ref``: the catalog recording (``Work.source_path``) from the matching point,
  at its own speed and pitch (so it lasts ``tempo_ratio`` times longer);
* ``ref-transformed``: the same stretch of the recording with the estimated
  pitch shift and tempo ratio applied (ffmpeg ``asetrate``, ``aresample``,
  ``atempo``), so it lines up with the clip sample for sample in time and pitch.

Mapping between clip and reference time (the Detection contract): the clip's
time ``t`` plays the work's time ``ref_offset_s + t * tempo_ratio``
(``ref_offset_s`` is where the clip's start maps to). :func:`ref_time` is the one
place that says so.

Everything is decoded with ffmpeg (any format it reads) to mono float32 at
:data:`SR`, cut and padded with numpy so an excerpt that starts before a file
starts is padded with silence rather than shifted, and cached under the data
home (``webapp.cache_dir``) keyed by a digest of every input.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import tempfile
import threading
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from webapp.errors import MediaError
from earwitness.kernel.digests import file_sha256 as sha256_file

SR = 22050
KINDS = ("clip", "ref", "ref-transformed")
_FFMPEG = "ffmpeg"


@dataclass(frozen=True)
class Plan:
    """Where each excerpt starts and how long it lasts, all in seconds."""

    clip_start_s: float      # in the clip
    clip_len_s: float        # in the clip (also the length of ref-transformed)
    ref_start_s: float       # in the work
    ref_len_s: float         # in the work (clip_len_s * tempo_ratio)
    lead_in_s: float         # the match starts this far into every excerpt
    pitch_semitones: float
    tempo_ratio: float


def ref_time(detection, clip_t: float) -> float:
    """The work's time (s) that plays at the clip's time ``clip_t`` (s)."""
    return detection.ref_offset_s + clip_t * detection.tempo_ratio


def plan(detection, *, lead_in_s: float = 1.0, max_excerpt_s: float = 30.0) -> Plan:
    """The excerpts to cut for ``detection`` (a :class:`~earwitness.kernel.store.models.Detection`)."""
    tempo = float(detection.tempo_ratio or 1.0)
    if not (0.25 <= tempo <= 4.0):
        raise MediaError(f"tempo ratio {tempo} is outside what can be played back (0.25-4)")
    lead = min(lead_in_s, max(0.0, detection.clip_offset_s))
    start = detection.clip_offset_s - lead
    length = min(lead + max(detection.duration_s, 0.5), max_excerpt_s)
    return Plan(clip_start_s=start, clip_len_s=length, ref_start_s=ref_time(detection, start),
                ref_len_s=length * tempo, lead_in_s=lead,
                pitch_semitones=float(detection.pitch_semitones or 0.0), tempo_ratio=tempo)


def decode(path: Path, *, start_s: float, length_s: float, sr: int = SR) -> np.ndarray:
    """Mono float32 samples of ``path`` from ``start_s`` for ``length_s`` seconds, shape ``(round(length_s*sr),)``.

    A start before 0 or an end past the file's end is filled with silence, so
    sample ``i`` is always time ``start_s + i/sr`` of the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"audio file not found: {path}")
    n = int(round(length_s * sr))
    pad = int(round(max(0.0, -start_s) * sr))
    cmd = [_FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-ss", f"{max(0.0, start_s):.6f}",
           "-t", f"{max(0.0, length_s - pad / sr):.6f}", "-i", str(path), "-vn", "-ac", "1",
           "-ar", str(sr), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg could not decode {path.name}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    y = np.frombuffer(proc.stdout, dtype="<f4")
    out = np.zeros(n, dtype=np.float32)
    take = y[: max(0, n - pad)]
    out[pad: pad + len(take)] = take
    return out


def transform(y: np.ndarray, *, pitch_semitones: float, tempo_ratio: float, sr: int = SR) -> np.ndarray:
    """``y`` played ``tempo_ratio`` times faster and ``pitch_semitones`` higher (ffmpeg filters).

    ``asetrate`` moves pitch and speed together by ``f = 2**(pitch/12)``; ``atempo``
    then corrects the speed to the wanted ratio without touching pitch.
    """
    if abs(pitch_semitones) < 1e-3 and abs(tempo_ratio - 1.0) < 1e-4:
        return y.astype(np.float32, copy=True)
    factor = 2.0 ** (pitch_semitones / 12.0)
    atempo = tempo_ratio / factor
    chain = [f"asetrate={sr * factor:.3f}", f"aresample={sr}"]
    while atempo < 0.5:           # atempo takes 0.5..100 per stage
        chain.append("atempo=0.5")
        atempo /= 0.5
    chain.append(f"atempo={atempo:.6f}")
    cmd = [_FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(sr),
           "-ac", "1", "-i", "-", "-af", ",".join(chain), "-f", "f32le", "-ar", str(sr), "-ac", "1", "-"]
    proc = subprocess.run(cmd, input=y.astype("<f4").tobytes(), capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg could not apply the transform: {proc.stderr.decode(errors='replace')[-300:]}")
    out = np.frombuffer(proc.stdout, dtype="<f4")
    want = int(round(len(y) / tempo_ratio))
    fixed = np.zeros(want, dtype=np.float32)
    fixed[: min(want, len(out))] = out[:want]
    return fixed


def wav_bytes(y: np.ndarray, sr: int = SR) -> bytes:
    """16-bit PCM mono WAV of ``y`` (float in [-1, 1])."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(np.round(np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32767


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


_path_locks: dict[str, threading.Lock] = {}
_path_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    """One lock per cache file: concurrent requests (players and picture load in parallel) cut once."""
    with _path_locks_guard:
        return _path_locks.setdefault(str(path), threading.Lock())


def _source_key(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


class Excerpts:
    """Cuts and caches the three excerpts and the picture of one detection.

    ``clip_path`` and ``ref_path`` are absolute paths of the clip's media and the
    work's source audio.
    """

    def __init__(self, cache_dir: Path, detection, *, clip_path: Path | None, ref_path: Path | None,
                 lead_in_s: float = 1.0, max_excerpt_s: float = 30.0) -> None:
        self.detection = detection
        self.clip_path = Path(clip_path) if clip_path else None
        self.ref_path = Path(ref_path) if ref_path else None
        self.plan = plan(detection, lead_in_s=lead_in_s, max_excerpt_s=max_excerpt_s)
        self.folder = Path(cache_dir) / detection.id
        self._digest: str | None = None

    def digest(self) -> str:
        """A key over every input of the excerpts: plan, source files, this module's SR."""
        if self._digest is None:
            if self.clip_path is None or not self.clip_path.is_file():
                raise MediaError(f"clip media not found: {self.clip_path or '(clip has no media_path)'}")
            if self.ref_path is None or not self.ref_path.is_file():
                raise MediaError(f"reference audio not found: {self.ref_path or '(work has no source_path)'}")
            key = json.dumps([asdict(self.plan), _source_key(self.clip_path), _source_key(self.ref_path), SR])
            self._digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self._digest

    def _samples(self, kind: str) -> np.ndarray:
        p = self.plan
        if kind == "clip":
            return decode(self.clip_path, start_s=p.clip_start_s, length_s=p.clip_len_s)
        ref = decode(self.ref_path, start_s=p.ref_start_s, length_s=p.ref_len_s)
        if kind == "ref":
            return ref
        if kind == "ref-transformed":
            return transform(ref, pitch_semitones=p.pitch_semitones, tempo_ratio=p.tempo_ratio)
        raise MediaError(f"unknown excerpt {kind!r}; one of {', '.join(KINDS)}")

    def wav(self, kind: str) -> Path:
        """The cached WAV of one excerpt (``clip``, ``ref`` or ``ref-transformed``)."""
        if kind not in KINDS:
            raise MediaError(f"unknown excerpt {kind!r}; one of {', '.join(KINDS)}")
        path = self.folder / f"{kind}-{self.digest()}.wav"
        with _lock_for(path):
            if not path.exists():
                _atomic_write(path, wav_bytes(self._samples(kind)))
        return path

    def picture(self, alignment: Callable[[], dict | None] | None = None) -> Path:
        """The cached PNG: spectrograms of clip and transformed reference, matched points on top.

        ``alignment`` is called (only when the picture is not cached yet) for the
        matcher's peak coordinates; None or a None result draws no points.
        """
        key = (f"{self.digest()}-{self.detection.matcher_version}-{'points' if alignment else 'plain'}"
               f"-{PICTURE_VERSION}")
        path = self.folder / f"alignment-{hashlib.sha256(key.encode()).hexdigest()[:16]}.png"
        with _lock_for(path):
            if not path.exists():
                self._draw(path, alignment)
        return path

    def _draw(self, path: Path, alignment: Callable[[], dict | None] | None) -> None:
        clip = read_wav(self.wav("clip"))
        ref = read_wav(self.wav("ref-transformed"))
        found = alignment() if alignment else None
        points = excerpt_points(found, self.plan) if found else None
        title = (f"score {self.detection.score:.2f}   pitch {self.plan.pitch_semitones:+.2f} st   "
                 f"tempo x{self.plan.tempo_ratio:.3f}")
        if points:
            title += f"   {len(points['matched'])} matched peaks in view"
        _atomic_write(path, draw_alignment(clip, ref, lead_in_s=self.plan.lead_in_s, points=points, title=title))


def excerpt_points(alignment: dict, p: Plan) -> dict:
    """Peak coordinates from :func:`earwitness.app.matching.alignment` moved into the excerpts' frame.

    The matcher reports ``clip`` (the clip's peaks), ``reference`` (the work's
    peaks already mapped into clip time and shifted by the estimated pitch, so
    they sit where the transformed reference plays them) and ``matched`` (clip
    peaks that coincide with a reference peak), each ``[[t_s, hz], ...]`` in
    clip seconds. The excerpts start at ``clip_start_s``, so only time moves.
    """
    def move(points):
        return [(float(t) - p.clip_start_s, float(f)) for t, f, *_ in points or []]

    return {"clip": move(alignment.get("clip")), "reference": move(alignment.get("reference")),
            "matched": move(alignment.get("matched"))}


# --- drawing -------------------------------------------------------------------------

_ANCHORS = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float64)
FMAX_HZ = 5000.0
FMIN_HZ = 100.0      # the picture's frequency axis is logarithmic from here to FMAX_HZ, as pitch is heard
FREQ_TICKS_HZ = (100, 200, 500, 1000, 2000, 5000)
PICTURE_VERSION = "log2"   # part of the cache key: a new drawing replaces pictures cached by an old one
N_FFT = 1024
HOP = 256


def spectrogram(y: np.ndarray, *, sr: int = SR, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Magnitude in dB (max 0), shape ``(n_fft//2+1, n_frames)``; bin ``k`` is ``k*sr/n_fft`` Hz, frame ``j`` is ``j*hop/sr`` s."""
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    n_frames = 1 + (len(y) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = y[idx] * np.hanning(n_fft)[None, :]
    mag = np.abs(np.fft.rfft(frames, axis=1)).T
    db = 20 * np.log10(np.maximum(mag, 1e-10))
    return db - db.max()


def _colorize(db: np.ndarray, floor_db: float = -70.0) -> np.ndarray:
    x = np.clip((db - floor_db) / -floor_db, 0, 1) * (len(_ANCHORS) - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, len(_ANCHORS) - 1)
    w = (x - lo)[..., None]
    return (_ANCHORS[lo] * (1 - w) + _ANCHORS[hi] * w).astype(np.uint8)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def picture_geometry(width: int = 960) -> dict:
    """Where the time axis lies in the picture (pixels): the review page draws its playhead from this."""
    left = 56
    return {"width": width, "left": left, "plot_w": width - left - 10}


def _log_rows(db: np.ndarray, panel_h: int, sr: int) -> np.ndarray:
    """Spectrogram rows resampled onto a log-frequency axis, top row FMAX_HZ, bottom row FMIN_HZ."""
    freqs = np.geomspace(FMAX_HZ, FMIN_HZ, panel_h)
    bins = freqs * N_FFT / sr
    lo = np.clip(np.floor(bins).astype(int), 0, db.shape[0] - 2)
    w = (bins - lo)[:, None]
    return db[lo] * (1 - w) + db[lo + 1] * w


def draw_alignment(clip: np.ndarray, ref: np.ndarray, *, lead_in_s: float, points: dict | None = None,
                   title: str = "", sr: int = SR, width: int = 960, panel_h: int = 200) -> bytes:
    """PNG bytes: two spectrogram panels on one time axis (clip above, transformed reference below).

    The frequency axis is logarithmic (100 Hz to 5 kHz). A dashed line marks the
    match start; ``points`` (see :func:`excerpt_points`) are drawn as small blue
    circles, matched peaks as green circles on both panels, with a legend.
    """
    geo = picture_geometry(width)
    left, top, gap, bottom = geo["left"], 26, 22, 30
    img = Image.new("RGB", (width, top + 2 * panel_h + gap + bottom), (250, 250, 248))
    d = ImageDraw.Draw(img)
    font = _font(12)
    d.text((left, 6), title, fill=(30, 30, 30), font=font)
    duration = max(len(clip), len(ref)) / sr
    plot_w = geo["plot_w"]
    span = math.log(FMAX_HZ / FMIN_HZ)

    def xy(t: float, f: float, panel: int) -> tuple[float, float]:
        y0 = top + panel * (panel_h + gap)
        return left + t / duration * plot_w, y0 + panel_h - math.log(max(f, FMIN_HZ) / FMIN_HZ) / span * panel_h

    for panel, (y, label) in enumerate(((clip, "clip"), (ref, "reference, transformed"))):
        db = _log_rows(spectrogram(y, sr=sr), panel_h, sr)
        frames_w = max(1, int(round(len(y) / sr / duration * plot_w)))
        small = np.asarray(Image.fromarray(db.astype(np.float32), mode="F").resize((frames_w, panel_h), Image.BILINEAR))
        tile = Image.fromarray(_colorize(small))
        y0 = top + panel * (panel_h + gap)
        img.paste(tile, (left, y0))
        d.rectangle([left, y0, left + plot_w, y0 + panel_h], outline=(120, 120, 120))
        d.text((left + 6, y0 + 4), label, fill=(255, 255, 255), font=font)
        for hz in FREQ_TICKS_HZ:
            _, yy = xy(0, hz, panel)
            d.line([left - 4, yy, left, yy], fill=(60, 60, 60))
            d.text((4, yy - 7), f"{hz // 1000} kHz" if hz >= 1000 else f"{hz} Hz", fill=(60, 60, 60), font=font)
        mx, _ = xy(lead_in_s, FMIN_HZ, panel)
        for yy in range(y0, y0 + panel_h, 8):
            d.line([mx, yy, mx, yy + 4], fill=(255, 255, 255), width=1)
    step = 1 if duration <= 12 else 2 if duration <= 24 else 5
    for k in range(math.ceil(-lead_in_s), int(duration - lead_in_s) + 1):
        if k % step:
            continue
        x, _ = xy(k + lead_in_s, FMIN_HZ, 1)   # ticks count seconds from the match start
        yb = top + 2 * panel_h + gap
        d.line([x, yb, x, yb + 4], fill=(60, 60, 60))
        d.text((x - 8, yb + 6), "match" if k == 0 else f"{k:+d}s", fill=(60, 60, 60), font=font)
    if points:
        def dot(t, f, panel, colour, r=3):
            if 0 <= t <= duration and FMIN_HZ <= f <= FMAX_HZ:
                x, yy = xy(t, f, panel)
                d.ellipse([x - r, yy - r, x + r, yy + r], outline=colour, width=1)
        for t, f in points.get("clip", []):
            dot(t, f, 0, (170, 190, 255), 2)
        for t, f in points.get("reference", []):
            dot(t, f, 1, (170, 190, 255), 2)
        for t, f in points.get("matched", []):   # a matched peak is where both panels have one
            dot(t, f, 0, (60, 255, 120), 4)
            dot(t, f, 1, (60, 255, 120), 4)
        # the legend, in the title line's right end
        lx, ly = width - 330, 8
        d.ellipse([lx, ly, lx + 6, ly + 6], outline=(90, 120, 230), width=1)
        d.text((lx + 10, ly - 3), "a peak of that panel", fill=(30, 30, 30), font=font)
        d.ellipse([lx + 150, ly - 1, lx + 158, ly + 7], outline=(20, 170, 70), width=2)
        d.text((lx + 162, ly - 3), "matched in both panels", fill=(30, 30, 30), font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()




__all__ = ["Excerpts", "Plan", "plan", "ref_time", "decode", "transform", "draw_alignment", "picture_geometry",
           "excerpt_points", "spectrogram", "sha256_file"]
