"""Fixtures for the web app: a data home seeded with real audio, a screenshot and detections,
accounts of each role, and the app served on 127.0.0.1 by a real server thread."""

from __future__ import annotations

import hashlib
import http.cookiejar
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fixtures.music import SAMPLE_RATE, synthesize, write_wav

PASSWORDS = {"ann": "analyst-pass-1", "lee": "legal-pass-22", "ada": "admin-pass-333"}
ROLES = {"ann": "analyst", "lee": "legal", "ada": "admin"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Seed:
    plain: str        # detection: clip = reference excerpt as is
    shifted: str      # detection: clip = reference excerpt sped up 6% (pitch +1 st, tempo x1.06)
    other: str        # detection on another platform, low score, older
    work_id: str
    clip_ids: dict


def _screenshot(path: Path, text: str) -> Path:
    img = Image.new("RGB", (480, 300), (245, 245, 250))
    d = ImageDraw.Draw(img)
    d.rectangle([20, 20, 460, 200], fill=(30, 30, 40))
    d.polygon([(210, 80), (210, 140), (260, 110)], fill=(230, 230, 230))
    d.text((20, 220), text, fill=(20, 20, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@pytest.fixture
def seeded(home, store):
    """Two songs, three clips and three pending detections with real files in the data home."""
    from earwitness.kernel.store.models import Clip, Detection, Work
    sr = SAMPLE_RATE
    ref = synthesize(4242, 24.0)
    other_song = synthesize(777, 6.0)
    ref_path = write_wav(home / "catalog" / "demo042.wav", ref)
    write_wav(home / "catalog" / "demo043.wav", synthesize(4343, 10.0))
    # clip 1: 2 s of another song, then the reference from 6 s to 14 s
    clip1 = np.concatenate([other_song[: 2 * sr] * 0.8, ref[6 * sr: 14 * sr]])
    clip1_path = write_wav(home / "media" / "fixture" / "v1.wav", clip1)
    # clip 2: the reference from 8 s to 16 s, resampled 6% faster (pitch and tempo together), as AAC
    raw = write_wav(home / "tmp" / "seg.wav", ref[8 * sr: 16 * sr])
    clip2_path = home / "media" / "fixture" / "v2.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-af",
                    f"asetrate={sr * 1.06:.0f},aresample={sr}", "-c:a", "aac", "-b:a", "96k", str(clip2_path)],
                   check=True)
    clip3_path = write_wav(home / "media" / "other" / "v3.wav", synthesize(4343, 10.0)[: 6 * sr])
    shot1 = _screenshot(home / "media" / "fixture" / "v1.png", "fixture video v1 by dancer_01")
    shot2 = _screenshot(home / "media" / "fixture" / "v2.png", "fixture video v2 by remix_king")
    now = datetime.now(timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)  # detections fall on fixed UTC days
    with store.session() as s:
        s.add(Work(id="demo042", title="Neon Harbour", artist="Lin Qiao", owner="Earwitness Demo Records",
                   source_path=str(ref_path), duration_s=24.0))
        s.add(Work(id="demo043", title="Paper Orbit", artist="Kite Club", owner="Earwitness Demo Records",
                   source_path="catalog/demo043.wav", duration_s=10.0))
        clips = {}
        for key, platform, media_id, path, shot, uploader in (
                ("v1", "fixture", "v1", clip1_path, shot1, "dancer_01"),
                ("v2", "fixture", "v2", clip2_path, shot2, "remix_king"),
                ("v3", "othertube", "x9", clip3_path, None, "someone")):
            clip = Clip(platform=platform, url=f"http://127.0.0.1:9/{platform}/video/{media_id}", media_id=media_id,
                        title=f"video {media_id}", uploader=uploader, uploader_id=f"uid-{uploader}",
                        published_at=now - timedelta(days=3), captured_at=now - timedelta(hours=5),
                        media_path=str(path.relative_to(home)), media_sha256=sha256(path),
                        audio_sha256=hashlib.sha256(key.encode()).hexdigest(),
                        screenshot_path=str(shot.relative_to(home)) if shot else None,
                        screenshot_sha256=sha256(shot) if shot else None, status="matched", duration_s=8.0)
            s.add(clip)
            s.flush()
            clips[key] = clip.id
        # the clip's time t plays the work's time ref_offset_s + t * tempo_ratio
        plain = Detection(clip_id=clips["v1"], work_id="demo042", clip_offset_s=2.0, ref_offset_s=4.0,
                          duration_s=8.0, score=0.91, pitch_semitones=0.0, tempo_ratio=1.0, matched_peaks=240,
                          matcher_version="test", created_at=midnight + timedelta(minutes=1))
        shifted = Detection(clip_id=clips["v2"], work_id="demo042", clip_offset_s=0.0, ref_offset_s=8.0,
                            duration_s=7.5, score=0.74, pitch_semitones=12 * np.log2(1.06), tempo_ratio=1.06,
                            matched_peaks=120, matcher_version="test", created_at=midnight + timedelta(minutes=2))
        other = Detection(clip_id=clips["v3"], work_id="demo043", clip_offset_s=0.0, ref_offset_s=0.0,
                          duration_s=6.0, score=0.35, pitch_semitones=0.0, tempo_ratio=1.0, matched_peaks=30,
                          matcher_version="test", created_at=midnight - timedelta(days=2) + timedelta(hours=1))
        s.add_all([plain, shifted, other])
        s.flush()
        seed = Seed(plain=plain.id, shifted=shifted.id, other=other.id, work_id="demo042", clip_ids=clips)
    return seed


@pytest.fixture
def users(store):
    from webapp import auth
    with store.session() as s:
        for name, role in ROLES.items():
            auth.create_user(s, name, role=role, password=PASSWORDS[name])
    return dict(PASSWORDS)


@pytest.fixture
def app(store, home):
    from earwitness.app.web import services
    from webapp import create_app
    return create_app(store, services=services())


@pytest.fixture
def server(app):
    """The app on 127.0.0.1 (a free port) in a real threaded WSGI server; yields the base URL."""
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.port}"
    srv.shutdown()
    srv.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browserless:
    """A cookie-keeping HTTP client for the fast tests (urllib, no redirects followed)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            resp = self.opener.open(req, timeout=60)
        except urllib.error.HTTPError as err:
            resp = err
        resp.body = resp.read()
        resp.text = resp.body.decode("utf-8", errors="replace")
        return resp

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.request("POST", path, data=data or {}, **kw)

    def csrf(self, path: str) -> str:
        page = self.get(path)
        m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert m, f"no CSRF token on {path} ({page.status})"
        return m.group(1)

    def login(self, name: str, password: str):
        token = self.csrf("/login")
        return self.post("/login", {"name": name, "password": password, "csrf_token": token, "next": "/"})


@pytest.fixture
def client(server):
    """A logged-out HTTP client of the served app."""
    return Browserless(server)


@pytest.fixture
def new_client(server):
    """A factory of further clients (another person, another browser) of the same server."""
    return lambda: Browserless(server)


def add_detections(store, n: int, *, work_id: str = "demo042", platform: str = "bulkplat",
                   uploaders: tuple[str, ...] = ("up_a", "up_b", "up_c"), seed: int = 7) -> list[str]:
    """``n`` pending detections on ``n`` clips (no media files: for list and decision pages), seeded."""
    import random

    from earwitness.kernel.store.models import Clip, Detection, Work
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    ids = []
    with store.session() as s:
        if s.get(Work, work_id) is None:
            s.add(Work(id=work_id, title=f"Work {work_id}", artist="Test Artist", owner="Test Records",
                       source_path=f"catalog/{work_id}.wav", duration_s=30.0))
            s.flush()
        for i in range(n):
            uploader = uploaders[i % len(uploaders)]
            clip = Clip(platform=platform, url=f"http://127.0.0.1:9/{platform}/video/b{i:05d}",
                        media_id=f"b{i:05d}", title=f"bulk clip {i:05d}", uploader=uploader,
                        uploader_id=f"uid-{uploader}", captured_at=now - timedelta(hours=1),
                        view_count=rng.randrange(10, 100000), audio_sha256=f"{i:064x}", status="matched",
                        duration_s=20.0)
            s.add(clip)
            s.flush()
            det = Detection(clip_id=clip.id, work_id=work_id, clip_offset_s=1.0, ref_offset_s=2.0,
                            duration_s=rng.uniform(4, 15), score=round(rng.uniform(11, 60), 2),
                            pitch_semitones=0.0, tempo_ratio=1.0, matched_peaks=rng.randrange(20, 200),
                            matcher_version="test", created_at=now - timedelta(minutes=n - i))
            s.add(det)
            s.flush()
            ids.append(det.id)
    return ids
