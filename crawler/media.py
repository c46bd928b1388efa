"""The one fetch path: yt-dlp finds and downloads the media, ffmpeg normalises its audio.

Used by crawls (:mod:`crawler.pipelines`), live sampling (:mod:`crawler.live`) and the
case re-check (:mod:`crawler.recheck`), so all three see a site the same way
(same user agent, proxy, cookies, retries, and the same idea of "gone").

Storage is content addressed: the normalised audio (mono 16-bit PCM WAV at
``media.sample_rate``, written bit-exact so equal input gives equal bytes) lives at
``<home>/media/<sha[:2]>/<sha256>.wav``. Settings read (section ``crawler``):
``media.*``, ``retry.*``, ``user_agent``, ``proxy``, ``cookies_file`` (or per site).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crawler import config
from crawler.errors import ContentGone, FetchFailed, MediaRejected
from earwitness.kernel import settings as ew_settings
from earwitness.kernel.digests import file_sha256 as sha256_file

log = logging.getLogger(__name__)

GONE_STATUSES = {404: "http_404", 410: "http_410", 451: "http_451"}
RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 522, 524}
_GONE_WORDS = [
    ("geo_blocked", re.compile(r"geo.?restrict|not available in your (country|region)|geo.?block", re.I)),
    ("private", re.compile(r"\bprivate\b|login required|sign in to confirm", re.I)),
    ("not_live", re.compile(r"not (currently )?live|is offline|no live stream", re.I)),
    ("platform_removed", re.compile(r"removed|deleted|no longer available|unavailable|does not exist|"
                                    r"has been taken down|terminated", re.I)),
]


@dataclass
class StoredAudio:
    """Normalised audio in the content-addressed store."""

    audio_sha256: str
    media_path: str          # relative to the data home
    duration_s: float


@dataclass
class Fetched:
    """What one fetch produced: the item's metadata as yt-dlp saw it, and its audio."""

    url: str
    info: dict[str, Any]
    source_url: str | None
    audio: StoredAudio | None = None
    media_sha256: str | None = None   # hash of the file as downloaded, before ffmpeg
    timings: dict[str, float] = field(default_factory=dict)


def _media_cfg() -> dict:
    return config.section().get("media", {})


def media_root() -> Path:
    return ew_settings.get().path("media")




def store_blob(tmp: Path, *, folder: str, suffix: str) -> tuple[str, str]:
    """Move ``tmp`` into ``<home>/<folder>/<sha[:2]>/<sha><suffix>``; returns (sha256, relative path).

    An existing file with the same hash is kept and ``tmp`` removed (content addressing).
    """
    digest = sha256_file(tmp)
    rel = Path(folder) / digest[:2] / f"{digest}{suffix}"
    dest = ew_settings.get().path(rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, dest)
    return digest, str(rel)


def store_bytes(data: bytes, *, folder: str, suffix: str) -> tuple[str, str]:
    root = ew_settings.get().path(folder)
    root.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=root, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return store_blob(Path(name), folder=folder, suffix=suffix)


def _ffmpeg_normalise_args(sample_rate: int) -> list[str]:
    return ["-vn", "-sn", "-dn", "-map_metadata", "-1", "-ac", "1", "-ar", str(sample_rate),
            "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav"]


def _wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def normalise_audio(src: str | Path, *, input_args: list[str] | None = None,
                    max_duration_s: float | None = None, timeout_s: float | None = None) -> StoredAudio:
    """Decode ``src`` (a file, URL or playlist) with ffmpeg into the content-addressed store.

    ``input_args`` go before ``-i`` (live capture: ``-live_start_index -1``).
    Raises :class:`MediaRejected` when there is no audio stream, :class:`FetchFailed`
    when ffmpeg fails otherwise.
    """
    cfg = _media_cfg()
    sr = int(cfg.get("sample_rate", 22050))
    limit = max_duration_s or float(cfg.get("max_duration_s", 1200))
    root = media_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=root, suffix=".part.wav")
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *(input_args or []),
           "-i", str(src), "-t", str(limit), *_ffmpeg_normalise_args(sr), str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s or limit + 60)
    except subprocess.TimeoutExpired as exc:
        tmp.unlink(missing_ok=True)
        raise FetchFailed(f"ffmpeg timed out on {src}") from exc
    if proc.returncode != 0 or tmp.stat().st_size <= 44:
        tmp.unlink(missing_ok=True)
        err = proc.stderr.strip()[-500:]
        if "does not contain any stream" in err or "matches no streams" in err or proc.returncode == 0:
            raise MediaRejected("no_audio", str(src), err)
        raise FetchFailed(f"ffmpeg failed on {src}: {err}")
    duration = _wav_duration(tmp)
    digest, rel = store_blob(tmp, folder="media", suffix=".wav")
    return StoredAudio(audio_sha256=digest, media_path=rel, duration_s=duration)


# --- yt-dlp -----------------------------------------------------------------------------------

class _YdlLogger:
    def debug(self, msg: str) -> None:
        if not msg.startswith("[debug] "):
            log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        if "Falling back on generic" not in msg:
            log.info("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


def ydl_options(site: config.SiteConfig | None = None, *, outdir: Path | None = None) -> dict[str, Any]:
    """yt-dlp options from the crawler settings (and the site's own proxy/cookies/user agent)."""
    sec = config.section()
    cfg = _media_cfg()

    def opt(key: str) -> Any:
        return site.option(key) if site is not None else sec.get(key)

    opts: dict[str, Any] = {
        "format": cfg.get("format", "bestaudio/best"),
        "quiet": True, "no_warnings": True, "noprogress": True, "logger": _YdlLogger(),
        "noplaylist": True, "cachedir": False, "retries": 3, "fragment_retries": 3,
        "socket_timeout": float(cfg.get("socket_timeout_s", 30)),
        "max_filesize": int(float(cfg.get("max_filesize_mb", 300)) * 1024 * 1024),
        "overwrites": False, "continuedl": True, "nopart": False,
        "http_headers": {"User-Agent": opt("user_agent") or "Mozilla/5.0"},
    }
    if opt("proxy"):
        opts["proxy"] = opt("proxy")
    if opt("cookies_file"):
        opts["cookiefile"] = str(opt("cookies_file"))
    if outdir is not None:
        opts["outtmpl"] = "%(extractor_key)s-%(id).80B.%(ext)s"
        opts["paths"] = {"home": str(outdir)}
    return opts


def _http_error(exc: BaseException) -> Any:
    """The yt-dlp networking HTTPError somewhere in ``exc``'s chain, if any."""
    from yt_dlp.networking.exceptions import HTTPError
    seen = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, HTTPError):
            return e
        info = getattr(e, "exc_info", None)
        if info:
            stack.append(info[1])
        stack.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
    return None


def _transport_error(exc: BaseException) -> bool:
    """A connection reset/refused/timeout somewhere in ``exc``'s chain (worth retrying)."""
    from yt_dlp.networking.exceptions import TransportError
    seen, stack = set(), [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (TransportError, ConnectionError, TimeoutError)):
            return True
        info = getattr(e, "exc_info", None)
        if info:
            stack.append(info[1])
        stack.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
    return False


def retry_after_s(headers: Any, default: float) -> float:
    """Seconds from a Retry-After header (delta or HTTP date), else ``default``."""
    raw = headers.get("Retry-After") if headers is not None else None
    if not raw:
        return default
    raw = raw.decode() if isinstance(raw, bytes) else str(raw)
    if raw.strip().isdigit():
        return float(raw.strip())
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(raw)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return default


def classify(exc: BaseException, url: str) -> Exception:
    """A yt-dlp failure as ContentGone (expected), or FetchFailed (may pass)."""
    from yt_dlp.utils import GeoRestrictedError, UserNotLive
    http = _http_error(exc)
    status = getattr(http, "status", None)
    if status in GONE_STATUSES:
        return ContentGone(GONE_STATUSES[status], url, status)
    chain = [exc, *(getattr(exc, "exc_info", None) or (None, None))[1:2]]
    if any(isinstance(e, GeoRestrictedError) for e in chain if e):
        return ContentGone("geo_blocked", url, status)
    if any(isinstance(e, UserNotLive) for e in chain if e):
        return ContentGone("not_live", url, status)
    msg = str(exc)
    expected = any(getattr(e, "expected", False) for e in chain if e)
    if expected or status == 403:
        for reason, rx in _GONE_WORDS:
            if rx.search(msg):
                return ContentGone(reason, url, status, msg[:300])
    if "Unsupported URL" in msg or "no video formats" in msg.lower() or "No media found" in msg:
        return MediaRejected("no_media", url, msg[:300])
    err = FetchFailed(f"{url}: {msg[:500]}")
    err.http_status = status  # type: ignore[attr-defined]
    return err


def _with_retries(fn, url: str):
    """Call ``fn`` retrying on 429/5xx with backoff (honouring Retry-After)."""
    r = config.section().get("retry", {})
    times = int(r.get("times", 6))
    base = float(r.get("backoff_base_s", 0.5))
    cap = float(r.get("max_backoff_s", 60))
    for attempt in range(times + 1):
        try:
            return fn()
        except Exception as exc:  # yt-dlp raises DownloadError wrapping the cause
            if isinstance(exc, (ContentGone, MediaRejected, FetchFailed)):
                raise
            http = _http_error(exc)
            status = getattr(http, "status", None)
            if http is None and _transport_error(exc) and attempt < times:
                delay = min(cap, base * 2 ** attempt)
                log.info("%s: connection trouble (%s), retry %d/%d in %.1fs", url, exc, attempt + 1, times, delay)
                time.sleep(delay)
                continue
            if status in RETRY_STATUSES and attempt < times:
                headers = getattr(getattr(http, "response", None), "headers", None)
                delay = min(cap, retry_after_s(headers, base * 2 ** attempt))
                log.info("%s: HTTP %s, retry %d/%d in %.1fs", url, status, attempt + 1, times, delay)
                time.sleep(delay)
                continue
            raise classify(exc, url) from exc
    raise AssertionError("unreachable")


_local = threading.local()


def _ydl(site: config.SiteConfig | None):
    """This thread's YoutubeDL for ``site`` (building one loads every extractor: reuse it)."""
    import yt_dlp
    cache = _local.__dict__.setdefault("ydls", {})
    key = (site.name if site is not None else None, id(ew_settings.get()))
    if key not in cache:
        opts = ydl_options(site, outdir=media_root() / "incoming")
        cache[key] = yt_dlp.YoutubeDL(opts)
    return cache[key]


def extract(url: str, site: config.SiteConfig | None = None) -> dict[str, Any]:
    """yt-dlp's info for ``url`` with formats selected, without downloading.

    Raises ContentGone (removed, private, geo-blocked, not live), MediaRejected
    (over the duration/size limits, no media), FetchFailed.
    """
    ydl = _ydl(site)

    def run():
        return ydl.sanitize_info(ydl.extract_info(url, download=False))

    info = _with_retries(run, url)
    check_limits(info, url)
    return info


def check_limits(info: dict[str, Any], url: str) -> None:
    cfg = _media_cfg()
    duration = info.get("duration")
    if duration and duration > float(cfg.get("max_duration_s", 1200)) and not info.get("is_live"):
        raise MediaRejected("too_long", url, f"{duration:.0f}s > {cfg.get('max_duration_s')}s")
    size = info.get("filesize") or info.get("filesize_approx")
    if size and size > float(cfg.get("max_filesize_mb", 300)) * 1024 * 1024:
        raise MediaRejected("too_large", url, f"{size} bytes")


def source_url(info: dict[str, Any]) -> str | None:
    """The media URL yt-dlp selected (first of the requested formats)."""
    if info.get("requested_formats"):
        return info["requested_formats"][0].get("url")
    return info.get("url")


def _incoming_dir(info: dict[str, Any]) -> Path:
    """A per-item download folder that survives a crash: a restarted fetch finds the
    finished file (yt-dlp skips it) or resumes the partial one (HTTP Range)."""
    key = hashlib.sha256(f"{info.get('extractor_key')}:{info.get('id')}:{source_url(info)}".encode()).hexdigest()
    return media_root() / "incoming" / key[:32]


def download(info: dict[str, Any], site: config.SiteConfig | None = None) -> Fetched:
    """Download the selected format of an extracted item and normalise its audio."""
    url = info.get("webpage_url") or info.get("original_url") or info.get("url")
    t0 = time.perf_counter()
    folder = _incoming_dir(info)
    folder.mkdir(parents=True, exist_ok=True)
    ydl = _ydl(site)

    def run():
        ydl.params["paths"] = {"home": str(folder)}
        return ydl.process_ie_result(dict(info), download=True)

    done = _with_retries(run, url)
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
    if not files:
        raise MediaRejected("not_downloaded", url, "yt-dlp wrote no file (size limit?)")
    raw = max(files, key=lambda p: p.stat().st_size)
    t1 = time.perf_counter()
    media_sha = sha256_file(raw)
    audio = normalise_audio(raw)
    t2 = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    return Fetched(url=url, info=done or info, source_url=source_url(info), audio=audio,
                   media_sha256=media_sha, timings={"download": t1 - t0, "decode": t2 - t1})


def fetch(url: str, site: config.SiteConfig | None = None) -> Fetched:
    """Extract and download in one go (re-check, ad-hoc use)."""
    t0 = time.perf_counter()
    info = extract(url, site)
    t1 = time.perf_counter()
    out = download(info, site)
    out.timings["extract"] = t1 - t0
    return out


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO string, a Unix timestamp or yt-dlp's YYYYMMDD."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), timezone.utc)
        text = str(value).strip()
        if re.fullmatch(r"\d{8}", text):
            return datetime.strptime(text, "%Y%m%d").replace(tzinfo=timezone.utc)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def parse_count(value: Any) -> int | None:
    """A view count from ``1234``, ``"1,234 views"``, ``"1.2K"``, ``"3.4万"``."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    m = re.search(r"(\d[\d,.\s]*)\s*([kKmMbB万亿w]?)", str(value))
    if not m:
        return None
    num = float(m.group(1).replace(",", "").replace(" ", "") or 0)
    mult = {"k": 1e3, "m": 1e6, "b": 1e9, "万": 1e4, "w": 1e4, "亿": 1e8}.get(m.group(2).lower(), 1)
    return int(num * mult)


def which_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if not path:
        raise FetchFailed("ffmpeg is not installed (apt-get install ffmpeg)")
    return path
