"""The built folder: complete, idempotent, and its truth.json is true to the media."""

import csv
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import resample_poly

from fixtures import build as building
from fixtures import music, spec


def _decode(path, sr=music.SAMPLE_RATE):
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(sr),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4")


def _duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def test_truth_covers_every_behaviour(platform_root):
    truth = building.load_truth(platform_root)
    videos = truth["videos"]
    kinds = {v["kind"] for v in videos}
    assert kinds == {"catalog", "noncatalog", "licensed", "removed", "throttled"}
    disguises = {d for v in videos if v["music"] == "catalog" for d in v["disguise"].split("+")}
    assert {"sped_up", "slowed", "pitch_up", "pitch_down", "voice_over", "low_bitrate", "none"} <= disguises
    containers = {f["container"] for v in videos for f in v["formats"]}
    assert containers == {"mp4", "m4a", "webm"}
    codecs = {f["acodec"] for v in videos for f in v["formats"]}
    assert codecs == {"aac", "mp3", "opus"}
    licensed = [v for v in videos if v["kind"] == "licensed"]
    assert licensed and all(v["uploader_id"] in truth["licensed_uploader_ids"] for v in licensed)
    assert {v["expect"] for v in videos} == {"detect", "licensed", "no_match", "gone"}
    for v in videos:
        if v["music"] == "catalog":
            assert v["track_id"].startswith("demo") and v["source_offset_s"] is not None
        else:
            assert v["track_id"] is None
        assert 10 <= v["duration_s"] <= 30
        for f in v["formats"]:
            path = platform_root / "media" / f["file"]
            assert path.is_file(), path
            assert _duration(path) == pytest.approx(v["duration_s"], abs=0.1)
    rooms = {r["id"]: r for r in truth["rooms"]}
    kinds_by_room = {rid: {it["kind"] for it in r["items"]} for rid, r in rooms.items()}
    assert "catalog" in kinds_by_room["room101"] and "noncatalog" in kinds_by_room["room101"]
    assert "catalog" not in kinds_by_room["room202"] and rooms["room202"]["is_live"]
    assert not rooms["room303"]["is_live"]


def test_catalog_manifest_is_the_demo_catalog(platform_root):
    with (platform_root / "catalog" / "manifest.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["track_id"] for r in rows] == [f"demo{i:03d}" for i in range(1, 13)]
    assert all((platform_root / "catalog" / r["path"]).is_file() for r in rows)


def _expected(v, songs):
    sr = music.SAMPLE_RATE
    song = songs[v["source_track"]]
    a = int(round(v["source_offset_s"] * sr))
    x = song[a:a + int(round(v["duration_s"] * v["speed"] * sr))]
    if v["speed"] != 1.0:
        frac = Fraction(v["speed"]).limit_denominator(200)
        x = resample_poly(x, frac.denominator, frac.numerator)
    return x


@pytest.mark.parametrize("video_id", ["k7Qm2xLp01", "Rt4vN8sWq2", "Mx8cJ5fVn5", "Ik4aD8wCb1", "Ed9tF4hLk8",
                                      "Ns1hV6kQc6"])
def test_upload_audio_is_its_source_at_the_stated_offset_and_speed(platform_root, video_id):
    """The truth's source, offset and speed reproduce the upload's audio (correlation near 1 at lag 0)."""
    truth = {v["id"]: v for v in building.load_truth(platform_root)["videos"]}
    v = truth[video_id]
    songs = {s.track_id: s for s in building.catalog_songs() + building.other_songs()}
    s = songs[v["source_track"]]
    want = _expected(v, {s.track_id: music.synthesize(s.seed, s.duration_s)})
    got = _decode(platform_root / "media" / v["formats"][0]["file"])
    n = min(len(want), len(got)) - music.SAMPLE_RATE  # skip the fades at both ends
    lo = music.SAMPLE_RATE // 2
    w, g = want[lo:lo + n], got[lo:lo + n]
    corr = float(np.dot(w, g) / np.sqrt(np.dot(w, w) * np.dot(g, g)))
    # the same audio with the wrong offset must not correlate: the check can fail
    shifted = want[lo + music.SAMPLE_RATE:lo + music.SAMPLE_RATE + n - music.SAMPLE_RATE]
    wrong = float(np.dot(shifted, g[:len(shifted)]) / np.sqrt(np.dot(shifted, shifted) * np.dot(g, g)))
    assert corr > 0.9 > abs(wrong) + 0.5


def test_build_is_cached_by_digest(tmp_path, platform_root, monkeypatch):
    """A folder with the current digest is reused as is; a stale digest triggers a rebuild."""
    assert building.is_built(platform_root)
    before = (platform_root / "truth.json").stat().st_mtime_ns
    assert building.build(platform_root) == platform_root.resolve()
    assert (platform_root / "truth.json").stat().st_mtime_ns == before
    digest = building.input_digest()
    monkeypatch.setattr(building, "input_digest", lambda extra=0: digest + "-changed")
    assert not building.is_built(platform_root)


def test_default_root_is_in_the_data_home(home):
    assert building.default_root() == home.resolve() / "fixture-platform"


def test_spec_clips_fit_their_songs():
    for v in spec.VIDEOS:
        if v.source:
            assert v.offset_s + v.duration_s * v.speed <= 40.0, v.id
        assert 10 <= v.duration_s <= 30
    assert len({v.id for v in spec.VIDEOS}) == len(spec.VIDEOS)


@pytest.mark.slow
def test_extra_uploads_for_benchmarks(tmp_path, home):
    """``extra=N`` adds N older uploads, each with its own audio; the base uploads stay as they are."""
    import hashlib
    root = building.build(tmp_path / "bench-platform", extra=6)
    truth = building.load_truth(root)
    base, extra = truth["videos"][:len(spec.VIDEOS)], truth["videos"][len(spec.VIDEOS):]
    assert [v["id"] for v in base] == [v.id for v in spec.VIDEOS] and len(extra) == 6 == truth["extra_uploads"]
    assert max(v["published_at"] for v in extra) < min(v["published_at"] for v in base)
    assert {v["music"] for v in extra} <= {"catalog", "noncatalog"}
    digests = {hashlib.sha256((root / "media" / f["file"]).read_bytes()).hexdigest()
               for v in truth["videos"] for f in v["formats"]}
    assert len(digests) == sum(len(v["formats"]) for v in truth["videos"])
    assert building.is_built(root, 6) and not building.is_built(root, 0)
    with pytest.raises(building.FixtureError):
        building.build(tmp_path / "x", extra=-1)
