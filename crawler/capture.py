"""Live capture with bounds: HTTP-FLV, HLS (ads skipped) and DASH, read as PCM with wall-clock times.

A :class:`LiveStream` is one open connection to a room's stream; :meth:`LiveStream.read` returns
the next audio as :class:`Chunk` s (int16 mono at the media sample rate, each with the wall time
of its first sample) and can be called again to continue without reconnecting (the rolling
buffer and the evidence after a hit need that). Every network read is bounded: a per-read stall
timeout, a wall-clock deadline per call and a byte budget per stream; a playlist read stops at
``max_playlist_bytes`` whatever the server sends. Requests carry the site's user agent, cookies
and proxy (:class:`StreamHttp`).

How a stream ends is an :attr:`LiveStream.outcome` in the crawler's vocabulary
(:mod:`crawler.outcomes`): ``offline`` (the stream stopped, its URL answers 404/410, or the
playlist says ``#EXT-X-ENDLIST``), ``blocked`` / ``needs_login`` (403, 429, walls),
``transient`` (stalls, timeouts, resets, a trickle too slow to fill the window, the byte
budget), ``broken`` (not a stream the protocol says it is).

HTTP-FLV is piped through one ffmpeg decoder for the life of the stream. HLS is polled:
starting at the newest segment (as ``-live_start_index -1`` would), each new segment is
fetched and decoded, ad segments are skipped (a ``CLASS`` containing "ad" in an
``EXT-X-DATERANGE``, ``EXT-X-CUE-OUT``/``CUE-IN`` spans, an ``EXTINF`` title naming an ad) and
each chunk is placed by its ``#EXT-X-PROGRAM-DATE-TIME``. DASH and anything else go to ffmpeg
itself with ``-rw_timeout`` and the same time bound (no ``-live_start_index``: that option exists
only for HLS).
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import select
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import numpy as np

from crawler import outcomes

log = logging.getLogger(__name__)

PROTOCOLS = ("flv", "hls", "dash", "ffmpeg")


@dataclass(frozen=True)
class Bounds:
    """How far one stream may go: per-read stall, per-call slack, bytes in all, playlist size."""

    stall_s: float = 10.0
    grace_s: float = 15.0
    max_bytes: int = 256 * 1024 * 1024
    max_playlist_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, live: dict) -> "Bounds":
        return cls(stall_s=float(live.get("stall_s", cls.stall_s)), grace_s=float(live.get("grace_s", cls.grace_s)),
                   max_bytes=int(float(live.get("max_stream_mb", 256)) * 1024 * 1024),
                   max_playlist_bytes=int(float(live.get("max_playlist_kb", 1024)) * 1024))


@dataclass
class Chunk:
    """Audio whose first sample was on air at ``start`` (epoch seconds)."""

    start: float
    samples: np.ndarray          # int16 mono

    def end(self, sr: int) -> float:
        return self.start + len(self.samples) / sr


class StreamEnded(Exception):
    """Why a stream stopped: ``kind`` from :mod:`crawler.outcomes`, ``reason`` the cause."""

    def __init__(self, kind: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{kind} ({reason}){': ' + detail if detail else ''}")
        self.kind, self.reason, self.detail = kind, reason, detail


# -- HTTP with the site's identity -----------------------------------------------------------------

class StreamHttp:
    """urllib with the site's user agent, cookies (Netscape cookies.txt) and proxy on every request."""

    def __init__(self, *, user_agent: str | None = None, proxy: str | None = None, cookies_file: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {})]
        self.cookies = http.cookiejar.MozillaCookieJar()
        if cookies_file:
            self.cookies.load(str(cookies_file), ignore_discard=True, ignore_expires=True)
        handlers.append(urllib.request.HTTPCookieProcessor(self.cookies))
        self.opener = urllib.request.build_opener(*handlers)
        self.headers = {k: v for k, v in (headers or {}).items() if k.lower() != "cookie"}
        if user_agent:
            self.headers["User-Agent"] = user_agent
        self.cookie_header = next((v for k, v in (headers or {}).items() if k.lower() == "cookie"), None)
        self.proxy = proxy

    def open(self, url: str, *, timeout_s: float):
        """The response of a GET; HTTP and network failures become :class:`StreamEnded`."""
        req = urllib.request.Request(url, headers=dict(self.headers))
        if self.cookie_header:   # cookies yt-dlp resolved for this format, besides the jar's
            req.add_unredirected_header("Cookie", self.cookie_header)
        try:
            return self.opener.open(req, timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            text = _peek(exc)
            exc.close()
            raise _ended_by_status(exc.code, text, url) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StreamEnded("transient", "network", f"{url}: {exc}") from exc

    def read_text(self, url: str, *, max_bytes: int, timeout_s: float) -> str:
        """A small document (a playlist), never more than ``max_bytes`` nor longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self.open(url, timeout_s=timeout_s) as resp:
            data = read_bounded(resp, max_bytes=max_bytes, deadline=deadline, what=url)
        return data.decode("utf-8", "replace")

    def read_bytes(self, url: str, *, max_bytes: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        with self.open(url, timeout_s=timeout_s) as resp:
            return read_bounded(resp, max_bytes=max_bytes, deadline=deadline, what=url)


def _peek(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(4096).decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""


def _ended_by_status(status: int, text: str, url: str) -> StreamEnded:
    """A stream URL's HTTP error: 404/410 on a live stream means the room stopped, not a removal."""
    if status in (404, 410):
        return StreamEnded("offline", f"http_{status}", url)
    answer = outcomes.from_http(status, text=text)
    kind = answer.kind if answer.kind != "up" else "broken"
    return StreamEnded(kind, answer.reason, f"{url}: {answer.detail}"[:300])


def read_bounded(resp, *, max_bytes: int, deadline: float, what: str) -> bytes:
    """Read a response to its end, but never past ``max_bytes`` or the monotonic ``deadline``."""
    parts, n = [], 0
    while True:
        if time.monotonic() > deadline:
            raise StreamEnded("transient", "time_limit", f"{what}: still sending at the time limit")
        try:
            data = resp.read1(65536)
        except (socket.timeout, TimeoutError) as exc:
            raise StreamEnded("transient", "stalled", what) from exc
        except OSError as exc:
            raise StreamEnded("transient", "network", f"{what}: {exc}") from exc
        if not data:
            return b"".join(parts)
        n += len(data)
        if n > max_bytes:
            raise StreamEnded("transient", "byte_limit", f"{what}: more than {max_bytes} bytes")
        parts.append(data)


# -- protocol -------------------------------------------------------------------------------------

def protocol_of(url: str, hint: str | None = None) -> str:
    """``flv``, ``hls``, ``dash`` or ``ffmpeg`` from yt-dlp's format protocol/ext or the URL itself."""
    h = (hint or "").lower()
    if h in PROTOCOLS:
        return h
    if "m3u8" in h:
        return "hls"
    if "dash" in h:
        return "dash"
    if h == "flv":
        return "flv"
    path = urlsplit(url).path.lower()
    if path.endswith(".m3u8"):
        return "hls"
    if path.endswith(".flv"):
        return "flv"
    if path.endswith(".mpd"):
        return "dash"
    return "ffmpeg"


def _pcm_decoder(fmt: str | None, sr: int, source: str = "pipe:0", input_args: list[str] | None = None
                 ) -> subprocess.Popen:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *(input_args or [])]
    if fmt:
        cmd += ["-probesize", "8192", "-analyzeduration", "0", "-f", fmt]
    cmd += ["-i", source, "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sr), "-f", "s16le", "pipe:1"]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE if source == "pipe:0" else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def decode_bytes(data: bytes, fmt: str, sr: int, timeout_s: float) -> np.ndarray:
    """A whole (small) piece of media, decoded to int16 mono."""
    proc = _pcm_decoder(fmt, sr)
    try:
        out, err = proc.communicate(data, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise StreamEnded("transient", "decoder_timeout") from exc
    if proc.returncode != 0 and not out:
        raise StreamEnded("broken", "undecodable", err.decode("utf-8", "replace")[-300:])
    return np.frombuffer(out[: len(out) // 2 * 2], dtype="<i2")


# -- streams --------------------------------------------------------------------------------------

class LiveStream:
    """One open live stream; ``read(seconds)`` returns the next audio; ``outcome`` once it ended."""

    protocol = "?"

    def __init__(self, url: str, http_: StreamHttp, *, sample_rate: int, bounds: Bounds) -> None:
        self.url, self.http, self.sr, self.bounds = url, http_, sample_rate, bounds
        self.bytes_read = 0
        self.ended: StreamEnded | None = None
        self.ads_skipped_s = 0.0

    @property
    def outcome(self) -> tuple[str, str]:
        return (self.ended.kind, self.ended.reason) if self.ended else ("ok", "")

    def read(self, seconds: float) -> list[Chunk]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "LiveStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FlvStream(LiveStream):
    """HTTP-FLV: the endless body piped through one ffmpeg; sample k was on air at ``start + k/sr``."""

    protocol = "flv"

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self._resp = None
        self._proc: subprocess.Popen | None = None
        self._pump: threading.Thread | None = None
        self._stop = threading.Event()
        self._start: float | None = None     # wall time of the first decoded sample
        self._samples_out = 0
        self._pcm_tail = b""
        self._pump_end: StreamEnded | None = None
        self._first_byte_at: float | None = None

    def _open(self) -> None:
        self._resp = self.http.open(self.url, timeout_s=self.bounds.stall_s)
        self._proc = _pcm_decoder("flv", self.sr)
        self._pump = threading.Thread(target=self._pump_body, name="flv-pump", daemon=True)
        self._pump.start()

    def _pump_body(self) -> None:
        """Copy the body into the decoder until stopped, the budget is spent or the server ends it."""
        try:
            while not self._stop.is_set():
                try:
                    data = self._resp.read1(65536)
                except (socket.timeout, TimeoutError):
                    self._pump_end = StreamEnded("transient", "stalled", f"no data for {self.bounds.stall_s:g} s")
                    return
                except OSError as exc:
                    self._pump_end = StreamEnded("transient", "network", str(exc))
                    return
                if not data:
                    self._pump_end = StreamEnded("offline", "stream_ended", "the server ended the stream")
                    return
                if self.bytes_read == 0:
                    if data[:3] != b"FLV":
                        self._pump_end = StreamEnded("broken", "not_flv", repr(data[:16]))
                        return
                    # a live FLV body starts at the server's "now" (sample 0 was on air when it arrived)
                    self._first_byte_at = time.time()
                self.bytes_read += len(data)
                if self.bytes_read > self.bounds.max_bytes:
                    self._pump_end = StreamEnded("transient", "byte_limit", f"over {self.bounds.max_bytes} bytes")
                    return
                self._proc.stdin.write(data)
                self._proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            if not self._stop.is_set():
                self._pump_end = StreamEnded("broken", "decoder_failed", "ffmpeg stopped reading")
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def read(self, seconds: float) -> list[Chunk]:
        if self.ended:
            return []
        if self._proc is None:
            try:
                self._open()
            except StreamEnded as exc:
                self.ended = exc
                return []
        want = int(round(seconds * self.sr)) * 2
        deadline = time.monotonic() + seconds + self.bounds.grace_s
        got = bytearray(self._pcm_tail)
        start_k = self._samples_out
        fd = self._proc.stdout.fileno()
        while len(got) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                self.ended = StreamEnded("transient", "too_slow",
                                         f"{len(got) / 2 / self.sr:.1f} s of {seconds:g} s by the time limit")
                break
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            data = self._proc.stdout.read1(want - len(got) if want > len(got) else 1)
            if not data:
                self.ended = self._pump_end or StreamEnded("broken", "decoder_ended", self._stderr())
                break
            if self._start is None:
                self._start = self._first_byte_at or time.time() - len(data) / 2 / self.sr
            got += data
        keep = len(got) // 2 * 2
        self._pcm_tail = bytes(got[want:]) if len(got) > want else b""
        body = bytes(got[:min(keep, want)])
        if self.ended:
            self.close()
        if not body or self._start is None:
            return []
        samples = np.frombuffer(body, dtype="<i2").copy()
        self._samples_out = start_k + len(samples)
        return [Chunk(self._start + start_k / self.sr, samples)]

    def _stderr(self) -> str:
        try:
            return self._proc.stderr.read1(2000).decode("utf-8", "replace") if self._proc.poll() is not None else ""
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        self._stop.set()
        if self._resp is not None:
            try:
                self._resp.close()
            except OSError:
                pass
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._pump is not None:
            self._pump.join(timeout=self.bounds.stall_s + 1)


@dataclass
class Segment:
    seq: int
    uri: str
    duration: float
    pdt: float | None
    discontinuity: bool
    ad: bool
    title: str = ""


@dataclass
class Playlist:
    segments: list[Segment] = field(default_factory=list)
    target_duration: float = 2.0
    ended: bool = False
    is_master: bool = False
    variants: list[str] = field(default_factory=list)


_AD_TITLE = re.compile(r"\b(amazon|ad|ads|advert\w*|commercial|sponsor\w*|preroll|midroll)\b", re.I)
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _epoch(iso: str) -> float | None:
    try:
        dt = datetime.fromisoformat(iso.strip().strip('"').replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def parse_playlist(text: str) -> Playlist:
    """A live HLS media playlist: segments with sequence, PDT, discontinuities, and which are ads."""
    pl = Playlist()
    if not text.lstrip().startswith("#EXTM3U"):
        raise StreamEnded("broken", "not_a_playlist", text[:80])
    seq = 0
    pdt = dur = None
    title = ""
    disc = cue_out = False
    ad_ranges: list[tuple[float, float]] = []
    pending_variant = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            seq = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            pl.target_duration = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-ENDLIST"):
            pl.ended = True
        elif line.startswith("#EXT-X-STREAM-INF"):
            pl.is_master, pending_variant = True, True
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = _epoch(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-DISCONTINUITY") and not line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE"):
            disc = True
        elif line.startswith("#EXT-X-DATERANGE:"):
            attrs = {k: v.strip('"') for k, v in _ATTR.findall(line.split(":", 1)[1])}
            cls = attrs.get("CLASS", "") + " " + attrs.get("ID", "")
            if re.search(r"(^|[-_ ])(ad|ads|stitched-ad)([-_ ]|$)|twitch-stitched-ad|SCTE35-OUT", cls, re.I) \
                    or "SCTE35-OUT" in attrs:
                start = _epoch(attrs.get("START-DATE", ""))
                if start is not None:
                    ad_ranges.append((start, start + float(attrs.get("DURATION", attrs.get("PLANNED-DURATION", 0)) or 0)))
        elif line.startswith(("#EXT-X-CUE-OUT", "#EXT-OATCLS-SCTE35")):
            cue_out = True
        elif line.startswith("#EXT-X-CUE-IN"):
            cue_out = False
        elif line.startswith("#EXTINF:"):
            head, _, title = line.split(":", 1)[1].partition(",")
            dur = float(head)
        elif not line.startswith("#"):
            if pending_variant:
                pl.variants.append(line)
                pending_variant = False
                continue
            in_range = pdt is not None and any(a - 0.01 <= pdt < b - 0.01 for a, b in ad_ranges)
            pl.segments.append(Segment(seq, line, dur or pl.target_duration, pdt, disc,
                                       ad=cue_out or in_range or bool(_AD_TITLE.search(title or "")), title=title))
            seq += 1
            pdt = dur = None
            title, disc = "", False
    return pl


class HlsStream(LiveStream):
    """A live HLS playlist polled for new segments; ads skipped; chunks placed by PDT.

    ``read(seconds)`` returns ``seconds`` of air time from its first programme segment (an ad
    inside that span is a gap, the window is not stretched to make up for it).
    """

    protocol = "hls"

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self._next_seq: int | None = None
        self._media_url = self.url
        self._last_end: float | None = None   # wall end of the last chunk returned (no PDT: chain on)

    def _playlist(self, timeout_s: float) -> Playlist:
        text = self.http.read_text(self._media_url, max_bytes=self.bounds.max_playlist_bytes,
                                   timeout_s=min(timeout_s, self.bounds.stall_s))
        pl = parse_playlist(text)
        if pl.is_master and pl.variants:
            self._media_url = urljoin(self._media_url, pl.variants[-1])
            return self._playlist(timeout_s)
        return pl

    def read(self, seconds: float) -> list[Chunk]:
        if self.ended:
            return []
        deadline = time.monotonic() + seconds + self.bounds.grace_s
        chunks: list[Chunk] = []
        have = 0.0
        while have < seconds:
            left = deadline - time.monotonic()
            if left <= 0:
                self.ended = StreamEnded("transient", "too_slow", f"{have:.1f} s of {seconds:g} s by the time limit")
                break
            try:
                pl = self._playlist(left)
                if self._next_seq is None:   # start at the newest segment, like -live_start_index -1
                    self._next_seq = pl.segments[-1].seq if pl.segments else 0
                new = [s for s in pl.segments if s.seq >= self._next_seq]
                if pl.segments and pl.segments[0].seq > self._next_seq:
                    log.info("%s: segments %d..%d slid out before we read them", self.url, self._next_seq,
                             pl.segments[0].seq - 1)
                for seg in new:
                    self._next_seq = seg.seq + 1
                    if seg.ad:
                        self.ads_skipped_s += seg.duration
                        continue
                    chunk = self._fetch(seg, deadline)
                    chunks.append(chunk)
                    # air time from the first programme segment: a mid-roll inside the window counts
                    have = chunk.end(self.sr) - chunks[0].start
                    if have >= seconds:
                        break
                if have >= seconds:
                    break
                if pl.ended:
                    self.ended = StreamEnded("offline", "endlist", "the playlist ended")
                    break
            except StreamEnded as exc:
                self.ended = exc
                break
            time.sleep(max(0.2, min(pl.target_duration / 2, deadline - time.monotonic())))
        return chunks

    def _fetch(self, seg: Segment, deadline: float) -> Chunk:
        left = max(0.5, deadline - time.monotonic())
        data = self.http.read_bytes(urljoin(self._media_url, seg.uri),
                                    max_bytes=max(1, self.bounds.max_bytes - self.bytes_read), timeout_s=left)
        self.bytes_read += len(data)
        fmt = "mpegts" if data[:1] == b"G" else None
        samples = decode_bytes(data, fmt or "mp4", self.sr, timeout_s=left)
        start = seg.pdt if seg.pdt is not None else (self._last_end or time.time() - seg.duration)
        self._last_end = start + len(samples) / self.sr
        return Chunk(start, samples.copy())


class FfmpegStream(LiveStream):
    """DASH or any other URL ffmpeg reads itself: bounded by ``-rw_timeout``, ``-t`` and a wall-clock kill."""

    protocol = "ffmpeg"

    def read(self, seconds: float) -> list[Chunk]:
        if self.ended:
            return []
        headers = "".join(f"{k}: {v}\r\n" for k, v in self.http.headers.items())
        args = ["-rw_timeout", str(int(self.bounds.stall_s * 1e6))]
        if headers:
            args += ["-headers", headers]
        if self.http.proxy:
            args += ["-http_proxy", self.http.proxy]
        proc = _pcm_decoder(None, self.sr, source=self.url, input_args=args + ["-t", f"{seconds:.3f}"])
        started = time.time()
        try:
            out, err = proc.communicate(timeout=seconds + self.bounds.grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.ended = StreamEnded("transient", "too_slow", "ffmpeg ran past the time limit")
        samples = np.frombuffer(out[: len(out) // 2 * 2], dtype="<i2").copy()
        self.bytes_read += len(out)
        if proc.returncode not in (0, None) and not len(samples) and not self.ended:
            self.ended = StreamEnded("transient", "ffmpeg_failed", err.decode("utf-8", "replace")[-300:])
        elif len(samples) < seconds * self.sr * 0.9 and not self.ended:
            self.ended = StreamEnded("offline", "stream_ended", "ffmpeg stopped before the window was full")
        return [Chunk(started, samples)] if len(samples) else []


def open_stream(url: str, http_: StreamHttp, *, protocol: str | None = None, sample_rate: int,
                bounds: Bounds) -> LiveStream:
    """The right reader for ``url`` (``protocol`` from yt-dlp's format, else from the URL)."""
    kind = protocol_of(url, protocol)
    cls = {"flv": FlvStream, "hls": HlsStream}.get(kind, FfmpegStream)
    return cls(url, http_, sample_rate=sample_rate, bounds=bounds)


def newest_segment_time(url: str, http_: StreamHttp, *, max_bytes: int = 1024 * 1024,
                        timeout_s: float = 10.0) -> datetime | None:
    """When the newest segment of a live HLS playlist was on air (its PDT), UTC; None for anything else.

    Bounded: never more than ``max_bytes`` nor ``timeout_s``, so an endless FLV body (or any
    stream that is not a playlist) is given up on at once instead of read forever.
    """
    deadline = time.monotonic() + timeout_s
    try:
        with http_.open(url, timeout_s=timeout_s) as resp:
            head = resp.read1(7)
            if not head.startswith(b"#EXTM3U"[:len(head)]) or not head:
                return None
            text = (head + read_bounded(resp, max_bytes=max_bytes, deadline=deadline, what=url)).decode(
                "utf-8", "replace")
    except (StreamEnded, OSError):
        return None
    stamps = [s.pdt for s in parse_playlist(text).segments if s.pdt is not None]
    return datetime.fromtimestamp(stamps[-1], timezone.utc) if stamps else None

