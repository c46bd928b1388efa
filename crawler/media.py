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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crawler import config, logins, outcomes, politeness
from crawler.errors import ContentGone, FetchFailed, MediaRejected, Refused
from earwitness.kernel import settings as ew_settings
from earwitness.kernel.blobs import open_blob_store
from earwitness.kernel.digests import file_sha256 as sha256_file

log = logging.getLogger(__name__)

RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 522, 524}
HTML_MAGIC = (b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"{")


class ItemTimeLimit(Exception):
    """Raised inside yt-dlp's progress hook when an item's wall-clock limit has passed
    (a plain Exception, so yt-dlp does not swallow it as a network error)."""


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
    original_path: str | None = None  # that file, kept under <home>/media/originals (relative to the home)
    timings: dict[str, float] = field(default_factory=dict)


def _media_cfg() -> dict:
    return config.section()["media"]


def media_root() -> Path:
    return ew_settings.get().path("media")




def store_blob(tmp: Path, *, folder: str, suffix: str) -> tuple[str, str]:
    """Move ``tmp`` into the blob store (``blobs`` settings) as ``<folder>/<sha[:2]>/<sha><suffix>``;
    returns (sha256, relative path).

    An existing blob with the same hash is kept and ``tmp`` removed (content addressing).
    """
    blob = open_blob_store().move_in(tmp, folder=folder, suffix=suffix)
    return blob.sha256, blob.path


def store_bytes(data: bytes, *, folder: str, suffix: str) -> tuple[str, str]:
    """Store ``data`` content-addressed under ``<folder>`` in the blob store; returns (sha256, relative path)."""
    blob = open_blob_store().put_bytes(data, folder=folder, suffix=suffix)
    return blob.sha256, blob.path


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
    sr = int(cfg["sample_rate"])
    limit = max_duration_s or float(cfg["max_duration_s"])
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
        if "Invalid data found when processing input" in err:
            raise MediaRejected("not_audio", str(src), err)
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


_local = threading.local()


@contextmanager
def time_limit(seconds: float | None):
    """Bound this thread's fetch of one item (extraction and download) to ``seconds`` of wall
    clock. The download is cut inside yt-dlp's progress hook (every block or fragment), so a
    trickling file or an endless stream ends as :class:`FetchFailed` (``item_time_limit``);
    extraction is bounded by the socket timeout per request and checked when it returns."""
    before = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + float(seconds) if seconds else None
    try:
        yield
    finally:
        _local.deadline = before


def _past_deadline() -> bool:
    deadline = getattr(_local, "deadline", None)
    return deadline is not None and time.monotonic() > deadline


def _deadline_hook(status: dict) -> None:
    if _past_deadline():
        raise ItemTimeLimit(f"{status.get('downloaded_bytes') or 0} bytes in")


def _time_limit_error(url: str, what: str) -> FetchFailed:
    limit = _media_cfg().get("item_time_limit_s")
    return FetchFailed(f"{url}: the item time limit ({limit} s) passed during {what}", kind="transient",
                       reason="item_time_limit")


def ydl_options(site: config.SiteConfig | None = None, *, outdir: Path | None = None) -> dict[str, Any]:
    """yt-dlp options from the crawler settings (and the site's own proxy/cookies/user agent)."""
    sec = config.section()
    cfg = _media_cfg()

    def opt(key: str) -> Any:
        return site.option(key) if site is not None else sec.get(key)

    opts: dict[str, Any] = {
        "format": cfg["format"],
        "quiet": True, "no_warnings": True, "noprogress": True, "logger": _YdlLogger(),
        "noplaylist": True, "cachedir": False, "retries": 3, "fragment_retries": 3,
        "socket_timeout": float(cfg["socket_timeout_s"]),
        "max_filesize": int(float(cfg["max_filesize_mb"]) * 1024 * 1024),
        "overwrites": False, "continuedl": True, "nopart": False,
        "progress_hooks": [_deadline_hook],
        "http_headers": {"User-Agent": opt("user_agent") or "Mozilla/5.0"},
    }
    if opt("proxy"):
        opts["proxy"] = opt("proxy")
    login = logins.cookie_file(site.name if site is not None else None)
    if opt("cookies_file") or login:
        opts["cookiefile"] = str(opt("cookies_file") or login)   # a configured file wins over the kept login
    if outdir is not None:
        opts["outtmpl"] = "%(extractor_key)s-%(id).80B.%(ext)s"
        opts["paths"] = {"home": str(outdir)}
    return opts


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


def classify(exc: BaseException, url: str, *, retry_after: float | None = None) -> Exception:
    """A yt-dlp failure as the crawler's exception for its :mod:`crawler.outcomes` kind:
    ContentGone (gone, private, geo_blocked, offline), Refused (blocked, needs_login),
    MediaRejected (no media at this URL), FetchFailed (transient, broken)."""
    answer = outcomes.from_ytdlp(exc, retry_after_s=retry_after)
    if answer is None:
        return MediaRejected("no_media", url, str(exc)[:300])
    return error_for(answer, url)


def error_for(answer: outcomes.Answer, url: str) -> Exception:
    """The exception a fetch raises for a classified answer that is not ``up``."""
    if answer.kind in outcomes.UNAVAILABLE:
        return ContentGone(answer.reason, url, answer.http_status, answer.detail, kind=answer.kind)
    if answer.kind in outcomes.WALLS:
        return Refused(answer.kind, answer.reason, url, answer.http_status, answer.detail, answer.retry_after_s)
    return FetchFailed(f"{url}: {answer.kind} ({answer.reason}): {answer.detail}", kind=answer.kind,
                       reason=answer.reason, http_status=answer.http_status)


def _with_retries(fn, url: str):
    """Call ``fn`` retrying transient trouble (429/5xx, dropped connections) with backoff.

    The server's Retry-After is honoured; one longer than ``retry.max_backoff_s`` is not
    waited out in a worker: the item ends as ``blocked`` (rate limited) at once, carrying
    the delay, so the caller can pause the site instead.
    """
    r = config.section()["retry"]
    times = int(r["times"])
    base = float(r["backoff_base_s"])
    cap = float(r["max_backoff_s"])
    for attempt in range(times + 1):
        try:
            return fn()
        except ItemTimeLimit:
            raise
        except Exception as exc:  # yt-dlp raises DownloadError wrapping the cause
            if isinstance(exc, (ContentGone, MediaRejected, FetchFailed, Refused)):
                raise
            http = outcomes.http_error_of(exc)
            status = getattr(http, "status", None)
            if http is None and outcomes.is_transport_error(exc) and attempt < times:
                delay = min(cap, base * 2 ** attempt)
                log.info("%s: connection trouble (%s), retry %d/%d in %.1fs", url, exc, attempt + 1, times, delay)
                time.sleep(delay)
                continue
            headers = getattr(getattr(http, "response", None), "headers", None)
            wanted = retry_after_s(headers, -1.0) if headers is not None else -1.0
            if wanted > 0:   # the whole domain waits, for every path of this crawl (crawler.politeness)
                politeness.hold(getattr(http.response, "url", None) or url, wanted)
            if status in RETRY_STATUSES and wanted > cap:
                raise classify(exc, url, retry_after=wanted) from exc
            if status in RETRY_STATUSES and attempt < times:
                delay = min(cap, wanted if wanted >= 0 else base * 2 ** attempt)
                log.info("%s: HTTP %s, retry %d/%d in %.1fs", url, status, attempt + 1, times, delay)
                time.sleep(delay)
                continue
            raise classify(exc, url, retry_after=wanted if wanted >= 0 else None) from exc
    raise AssertionError("unreachable")


def _ydl(site: config.SiteConfig | None):
    """This thread's YoutubeDL for ``site`` (building one loads every extractor: reuse it)."""
    cache = _local.__dict__.setdefault("ydls", {})
    login = logins.cookie_file(site.name if site is not None else None)
    # a new login (its cookies.txt rewritten) needs a new YoutubeDL: yt-dlp reads cookies once
    key = (site.name if site is not None else None, id(ew_settings.get()), login and login.stat().st_mtime_ns)
    if key not in cache:
        opts = ydl_options(site, outdir=media_root() / "incoming")
        cache[key] = politeness.youtube_dl_class(site)(opts)
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
    if _past_deadline():
        raise _time_limit_error(url, "extraction")
    check_limits(info, url)
    return info


def check_limits(info: dict[str, Any], url: str) -> None:
    cfg = _media_cfg()
    duration = info.get("duration")
    if duration and duration > float(cfg["max_duration_s"]) and not info.get("is_live"):
        raise MediaRejected("too_long", url, f"{duration:.0f}s > {cfg.get('max_duration_s')}s")
    size = info.get("filesize") or info.get("filesize_approx")
    if size and size > float(cfg["max_filesize_mb"]) * 1024 * 1024:
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

    try:
        done = _with_retries(run, url)
    except ItemTimeLimit as exc:
        shutil.rmtree(folder, ignore_errors=True)   # an endless stream is not resumed
        raise _time_limit_error(url, f"the download ({exc})") from None
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
    if not files:
        raise MediaRejected("not_downloaded", url, "yt-dlp wrote no file (size limit?)")
    raw = max(files, key=lambda p: p.stat().st_size)
    _refuse_pages_served_as_media(raw, url)
    t1 = time.perf_counter()
    audio = normalise_audio(raw)
    t2 = time.perf_counter()
    original = keep_original(raw)
    shutil.rmtree(folder, ignore_errors=True)
    return Fetched(url=url, info=done or info, source_url=source_url(info), audio=audio,
                   media_sha256=original.sha256, original_path=original.path,
                   timings={"download": t1 - t0, "decode": t2 - t1})


ORIGINALS = "media/originals"


def keep_original(raw: Path):
    """Move the downloaded file (the container as the platform served it) into the blob store beside the
    normalised audio: evidence of what was downloaded, re-hashable by anyone. Returns the kernel Blob."""
    suffix = raw.suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", raw.suffix or "") else ".bin"
    return open_blob_store().move_in(raw, folder=ORIGINALS, suffix=suffix)


def _refuse_pages_served_as_media(path: Path, url: str) -> None:
    """A web page where the media file should be: a wall (bot check, captcha, sign-in) when it
    says so, else ``not_audio``. Either way nothing is decoded and the folder is cleared."""
    with open(path, "rb") as f:
        head = f.read(65536)
    if not head.lstrip().lower().startswith(HTML_MAGIC):
        return
    shutil.rmtree(path.parent, ignore_errors=True)
    text = head.decode("utf-8", "replace")
    answer = outcomes.from_http(200, text=text)
    if answer.is_wall:
        raise error_for(answer, url)
    raise MediaRejected("not_audio", url, "the media URL served a web page: " + " ".join(text.split())[:120])


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
