"""Seed core rows (works, clips with real media files, detections) for the notices tests."""

from __future__ import annotations

import hashlib
import threading
import struct
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from earwitness.kernel.store.models import Clip, Detection, Work
from fixtures.music import synthesize, write_wav

import notices  # noqa: F401  (registers the tables)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)   # a Monday


def png_bytes(width: int = 4, height: int = 3, seed: int = 0) -> bytes:
    """A real (tiny) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 40 + seed) % 256, (y * 60) % 256, 128)) for x in range(width))
        for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Seeder:
    """Creates works, clips and detections with real files in the data home."""

    def __init__(self, home: Path, store) -> None:
        self.home, self.store, self.n = home, store, 0

    def work(self, s, work_id: str = "T001", title: str = "Neon River", artist: str = "Lin Qiao",
             isrc: str | None = "CNA012600001") -> Work:
        w = s.get(Work, work_id)
        if w is None:
            w = Work(id=work_id, title=title, artist=artist, isrc=isrc, owner="Example Music")
            s.add(w)
            s.flush()
        return w

    def clip(self, s, *, platform: str = "fixture", media_id: str | None = None, seed: int = 1,
             captured_at: datetime = T0, audio_sha256: str | None = None, screenshot: bool = True,
             uploader: str = "uploader_a") -> Clip:
        self.n += 1
        media_id = media_id or f"v{self.n:04d}"
        folder = self.home / "media" / platform
        folder.mkdir(parents=True, exist_ok=True)
        wav = write_wav(folder / f"{media_id}-{self.n}.wav", synthesize(seed, 2.0))
        clip = Clip(platform=platform, url=f"https://{platform}.example/video/{media_id}",
                    media_id=media_id, title=f"video {media_id}", uploader=uploader,
                    captured_at=captured_at, media_path=str(wav.relative_to(self.home)),
                    media_sha256=sha(wav), audio_sha256=audio_sha256 or sha(wav), status="matched",
                    duration_s=2.0)
        if screenshot:
            png = folder / f"{media_id}-{self.n}.png"
            png.write_bytes(png_bytes(seed=seed))
            html = folder / f"{media_id}-{self.n}.html"
            html.write_text(f"<html><body><h1>video {media_id}</h1><p>上传者 {uploader}</p></body></html>",
                            encoding="utf-8")
            clip.screenshot_path, clip.screenshot_sha256 = str(png.relative_to(self.home)), sha(png)
            clip.html_path, clip.html_sha256 = str(html.relative_to(self.home)), sha(html)
        s.add(clip)
        s.flush()
        return clip

    def detection(self, s, *, work_id: str = "T001", clip: Clip | None = None, score: float = 85.0,
                  created_at: datetime = T0, **clip_kw) -> Detection:
        self.work(s, work_id, title=f"Song {work_id}" if work_id != "T001" else "Neon River")
        clip = clip or self.clip(s, captured_at=created_at, **clip_kw)
        det = Detection(clip_id=clip.id, work_id=work_id, clip_offset_s=0.5, ref_offset_s=12.25,
                        duration_s=15.0, score=score, pitch_semitones=-1.0, tempo_ratio=1.05,
                        matched_peaks=80, matcher_version="test-matcher-1", created_at=created_at)
        s.add(det)
        s.flush()
        return det


@pytest.fixture
def seed(home, store):
    return Seeder(home, store)


def send_letter(s, notice, *, actor: str = "legal", sent_at=T0, channel: str = "email",
                recipient: str = "copyright@fixture.invalid"):
    """Approve a drafted letter and record it as sent (the two steps a legal user takes)."""
    from notices import letters
    letters.approve(s, notice.id, actor=actor)
    return letters.mark_sent(s, notice.id, actor=actor, channel=channel, recipient=recipient,
                             sent_at=sent_at)


@pytest.fixture
def site():
    """A platform stand-in: /video/<id> answers the status set in ``status`` (default 200)."""
    status: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            code = status.get(self.path.rsplit("/", 1)[-1], 200)
            body = b"<html>video</html>" if code == 200 else b"removed"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", status
    server.shutdown()
    server.server_close()
