"""yt-dlp's generic extractor downloads a video page's audio with ``bestaudio/best``."""

import subprocess

import pytest
import yt_dlp


def _probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
                          "-of", "default=nw=1", str(path)], capture_output=True, text=True, check=True).stdout
    return out


@pytest.mark.parametrize("video_id", ["k7Qm2xLp01", "Mx8cJ5fVn5", "Ed9tF4hLk8"])  # MP4 (muxed), MP4+WebM, M4A
def test_ytdlp_downloads_the_audio_of_a_video_page(platform, tmp_path, video_id):
    v = next(v for v in platform.truth["videos"] if v["id"] == video_id)
    opts = {"format": "bestaudio/best", "outtmpl": str(tmp_path / "dl" / "%(id)s.%(ext)s"), "quiet": True,
            "no_warnings": True, "noprogress": True, "socket_timeout": 10}
    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.extract_info(platform.url + v["url"], download=True)
    files = list((tmp_path / "dl").iterdir())
    assert len(files) == 1
    probe = _probe(files[0])
    assert "codec_type=audio" in probe
    duration = float(probe.split("duration=")[1].split()[0])
    assert duration == pytest.approx(v["duration_s"], abs=0.2)
    assert v["title"] in info["title"]
    assert info["ext"] in {f["container"] for f in v["formats"]} | {"m4a", "mp4"}


def test_ytdlp_sees_the_removed_video_as_gone(platform, tmp_path):
    """After its first visit the removed page answers 410: yt-dlp fails with an HTTP error, not a crash."""
    v = next(v for v in platform.truth["videos"] if v["kind"] == "removed")
    from tests.fixtures_platform.client import Http
    assert Http(platform.url).get(v["url"])[0] == 200
    opts = {"format": "bestaudio/best", "outtmpl": str(tmp_path / "dl" / "%(id)s.%(ext)s"), "quiet": True,
            "no_warnings": True, "noprogress": True}
    with yt_dlp.YoutubeDL(opts) as ydl, pytest.raises(yt_dlp.utils.DownloadError, match="410"):
        ydl.extract_info(platform.url + v["url"], download=True)
    assert not (tmp_path / "dl").exists() or list((tmp_path / "dl").iterdir()) == []
