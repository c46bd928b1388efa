"""The downloaded original is kept beside the normalised audio, hashed on the clip (the fixture platform
over real HTTP: yt-dlp, ffmpeg, the store); the page's WARC is stored with the screenshot."""

from __future__ import annotations

import hashlib


def _item(proxy, video_id, media_id=None, **kw):
    from crawler.items import VideoItem
    return VideoItem(site="fixture", platform="fixture", url=f"{proxy.url}/shorts/video/{video_id}",
                     media_id=media_id or video_id, **kw)


def _site():
    from crawler.config import load_site
    return load_site("fixture")


def test_original_download_is_kept_with_both_hashes(site_home, store, proxy):
    from crawler.ingest import ingest_item
    from earwitness.kernel.store.models import Clip
    out = ingest_item(store, _item(proxy, "k7Qm2xLp01", screenshot=b"\x89PNG stamped", warc=b"WARC/1.1 gz"),
                      _site())
    assert out.state == "fetched", out
    with store.session() as s:
        clip = s.get(Clip, out.clip_id)
        original = site_home / clip.original_path
        data = original.read_bytes()
        assert clip.original_path.startswith("media/originals/") and not data.startswith(b"RIFF")
        assert hashlib.sha256(data).hexdigest() == clip.original_sha256 == clip.extra["download_sha256"]
        assert clip.media_sha256 == clip.audio_sha256 != clip.original_sha256     # normalised audio, its own hash
        assert (site_home / clip.media_path).read_bytes()[:4] == b"RIFF"
        assert (site_home / clip.warc_path).read_bytes() == b"WARC/1.1 gz"
        assert clip.warc_sha256 == hashlib.sha256(b"WARC/1.1 gz").hexdigest()
        first = (clip.original_path, clip.original_sha256)
    assert not list((site_home / "media" / "incoming").glob("*/*")), "nothing left in the download folder"
    # the same media file from another page: the audio is reused and so is the original
    again = ingest_item(store, _item(proxy, "k7Qm2xLp01", media_id="mirror-of-k7Qm2xLp01"), _site())
    assert again.reused_audio
    with store.session() as s:
        twin = s.get(Clip, again.clip_id)
        assert (twin.original_path, twin.original_sha256) == first
