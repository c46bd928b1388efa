"""The review page on a detection the real matcher made: players line up and the plot shows matched peaks."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from earwitness.kernel.store.models import Clip, Detection
from fixtures.music import SAMPLE_RATE, demo_songs, synthesize, write_catalog, write_wav
from webapp import media

matching = pytest.importorskip("earwitness.app.matching")
catalog = pytest.importorskip("earwitness.app.catalog")


@pytest.fixture
def matched(home, store):
    """Three works imported; one clip = work 2 from 5 s to 15 s, resampled 3% faster, as AAC; matched."""
    songs = demo_songs(3, duration_s=20.0)
    catalog.import_manifest(store, write_catalog(home / "catalog", songs))
    sr = SAMPLE_RATE
    raw = write_wav(home / "tmp" / "cut.wav", synthesize(songs[1].seed, 20.0)[5 * sr: 15 * sr])
    clip_path = home / "media" / "fixture" / "real.m4a"
    clip_path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-af",
                    f"asetrate={sr * 1.03:.0f},aresample={sr}", "-c:a", "aac", "-b:a", "128k", str(clip_path)],
                   check=True)
    with store.session() as s:
        s.add(Clip(platform="fixture", url="http://127.0.0.1:9/fixture/video/real", media_id="real",
                   uploader="remixer", media_path=str(clip_path.relative_to(home)),
                   media_sha256=hashlib.sha256(clip_path.read_bytes()).hexdigest(),
                   audio_sha256=hashlib.sha256(b"real").hexdigest(), status="fetched"))
    matching.match_backlog(store)
    with store.session() as s:
        dets = list(s.scalars(select(Detection)))
        assert [d.work_id for d in dets] == [songs[1].track_id]
        return dets[0].id


def _envelope_corr(a, b, hop=512):
    n = min(len(a), len(b)) // hop * hop
    ea = np.sqrt((a[:n].reshape(-1, hop) ** 2).mean(axis=1))
    eb = np.sqrt((b[:n].reshape(-1, hop) ** 2).mean(axis=1))
    ea, eb = ea - ea.mean(), eb - eb.mean()
    return float(ea @ eb / (np.linalg.norm(ea) * np.linalg.norm(eb) + 1e-12))


def test_excerpts_of_a_real_detection_line_up(home, store, matched):
    """Checks the clip/reference time mapping against what the matcher actually records."""
    with store.session() as s:
        det = s.get(Detection, matched)
        assert det.tempo_ratio == pytest.approx(1.03, abs=0.01)
        assert det.pitch_semitones == pytest.approx(12 * np.log2(1.03), abs=0.2)
        ex = media.Excerpts(home / "webapp" / "cache", det, clip_path=home / det.clip.media_path,
                            ref_path=home / det.work.source_path)
        clip = media.read_wav(ex.wav("clip"))
        ref_t = media.read_wav(ex.wav("ref-transformed"))
        lead = int(ex.plan.lead_in_s * SAMPLE_RATE)
        assert _envelope_corr(clip[lead:], ref_t[lead:]) > 0.8
        assert _envelope_corr(clip[lead:], ref_t[lead + SAMPLE_RATE // 3:]) < 0.6


def test_alignment_picture_marks_matched_peaks(client, users, matched):
    client.login("ann", users["ann"])
    page = client.get(f"/review/{matched}").text
    assert "green circles: peaks matched" in page
    png = client.get(f"/media/detection/{matched}/alignment.png")
    assert png.status == 200
    shots = Path(__file__).parent / "screenshots"
    shots.mkdir(exist_ok=True)
    (shots / "alignment-real-match.png").write_bytes(png.body)
    import io
    img = np.asarray(Image.open(io.BytesIO(png.body)).convert("RGB"))
    green = int(((img[..., 1] > 230) & (img[..., 0] < 90) & (img[..., 2] < 150)).sum())
    assert green > 100
