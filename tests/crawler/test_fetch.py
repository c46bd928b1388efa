"""The fetch path against the fixture platform over real HTTP: yt-dlp, ffmpeg, the store.

No browser here (items are built as a spider would build them); the crawl tests
with Chromium are in test_crawl.py.
"""

from __future__ import annotations

import wave

from sqlalchemy import func, select


def _item(proxy, video_id, media_id=None, **kw):
    from crawler.items import VideoItem
    return VideoItem(site="fixture", platform="fixture", url=f"{proxy.url}/shorts/video/{video_id}",
                     media_id=media_id or video_id, **kw)


def _site():
    from crawler.config import load_site
    return load_site("fixture")


def test_fetch_stores_normalised_audio_content_addressed(site_home, store, proxy):
    from crawler.ingest import ingest_item
    from earwitness.kernel.store.models import Clip
    out = ingest_item(store, _item(proxy, "k7Qm2xLp01", title="t", screenshot=b"\x89PNG fake", html=b"<html/>"),
                      _site())
    assert out.state == "fetched", out
    with store.session() as s:
        clip = s.get(Clip, out.clip_id)
        assert clip.status == "fetched" and clip.platform == "fixture" and clip.media_id == "k7Qm2xLp01"
        assert clip.media_path == f"media/{clip.audio_sha256[:2]}/{clip.audio_sha256}.wav"
        with wave.open(str(site_home / clip.media_path)) as w:
            assert w.getnchannels() == 1 and w.getframerate() == 22050
        assert 19.5 < clip.duration_s < 20.5
        assert (site_home / clip.screenshot_path).read_bytes() == b"\x89PNG fake"
        assert clip.html_sha256 and (site_home / clip.html_path).exists()
        assert clip.captured_at.tzinfo is not None
    # the same item again: skipped, nothing fetched
    before = sum(proxy.media_gets().values())
    again = ingest_item(store, _item(proxy, "k7Qm2xLp01"), _site())
    assert again.state == "fetched" and again.clip_id == out.clip_id
    assert sum(proxy.media_gets().values()) == before


def test_same_media_from_another_url_is_not_fetched_again(site_home, store, proxy):
    from crawler.ingest import ingest_item
    from earwitness.kernel.store.models import Clip
    first = ingest_item(store, _item(proxy, "Ik4aD8wCb1"), _site())
    media_before = proxy.media_gets()
    # another page id, same page and media file (a mirror / re-share URL)
    second = ingest_item(store, _item(proxy, "Ik4aD8wCb1", media_id="mirror-of-Ik4aD8wCb1"), _site())
    assert second.state == "fetched" and second.reused_audio
    assert proxy.media_gets() == media_before
    with store.session() as s:
        a, b = s.get(Clip, first.clip_id), s.get(Clip, second.clip_id)
        assert a.audio_sha256 == b.audio_sha256 and a.media_path == b.media_path


def test_removed_video_is_an_expected_outcome(site_home, store, proxy, platform):
    import urllib.request

    from crawler.ingest import ingest_item
    from crawler.models import FrontierEntry
    from earwitness.kernel.store.models import Clip
    removed = next(v for v in platform.truth["videos"] if v["kind"] == "removed")
    urllib.request.urlopen(f"{proxy.url}{removed['url']}").read()   # the first visit (the spider's)
    out = ingest_item(store, _item(proxy, removed["id"], screenshot=b"\x89PNG first visit"), _site())
    assert out.state == "gone" and out.reason == "http_410"
    with store.session() as s:
        row = s.scalars(select(FrontierEntry).where(FrontierEntry.media_id == removed["id"])).one()
        assert (row.state, row.reason, row.http_status) == ("gone", "http_410", 410)
        shot = row.listing["evidence"]["screenshot_path"]
        assert (site_home / shot).read_bytes() == b"\x89PNG first visit"
        assert s.scalar(select(func.count()).select_from(Clip)) == 0


def test_throttled_page_is_retried_after_retry_after(site_home, store, proxy, platform):
    from crawler.ingest import ingest_item
    throttled = next(v for v in platform.truth["videos"] if v["kind"] == "throttled")
    out = ingest_item(store, _item(proxy, throttled["id"]), _site())
    assert out.state == "fetched", out
    assert proxy.hits[("GET", throttled["url"])] == 4   # three 429s, then 200


def test_probe_uses_the_fetch_path(site_home, store, proxy, platform):
    import urllib.request

    from crawler.recheck import probe
    up = probe(f"{proxy.url}/shorts/video/k7Qm2xLp01", "fixture", fetch_audio=True)
    assert (up.gone, up.reason, up.http_status) == (False, "still_up", 200)
    assert up.audio_sha256 and (site_home / up.audio_path).exists()
    missing = probe(f"{proxy.url}/shorts/video/doesnotexist", "fixture")
    assert (missing.gone, missing.reason, missing.http_status) == (True, "http_404", 404)
    removed = next(v for v in platform.truth["videos"] if v["kind"] == "removed")
    urllib.request.urlopen(f"{proxy.url}{removed['url']}").read()
    gone = probe(f"{proxy.url}{removed['url']}", "fixture")
    assert (gone.gone, gone.reason, gone.http_status) == (True, "http_410", 410)
    assert gone.checked_at.tzinfo is not None


def test_over_long_media_is_rejected_not_fetched(site_home, store, proxy, monkeypatch):
    from crawler.ingest import ingest_item
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__MEDIA__MAX_DURATION_S", "5")
    settings.configure(site_home)
    out = ingest_item(store, _item(proxy, "Ws5rB3nKj7", duration_s=15.0), _site())
    assert (out.state, out.reason) == ("rejected", "too_long")
    assert not proxy.media_gets()


def test_connection_reset_is_retried(site_home, store, platform, monkeypatch):
    """A page whose first connection is dropped without an answer is fetched on the retry."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from crawler.ingest import ingest_item
    from earwitness.kernel import settings
    host, port = platform.url.split("//", 1)[1].split(":")
    seen = []

    class Flaky(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            if len(seen) == 1:          # drop the very first connection
                self.close_connection = True
                self.connection.shutdown(2)
                return
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            headers = {"Host": self.headers["Host"]}
            if self.headers.get("Range"):
                headers["Range"] = self.headers["Range"]
            conn.request("GET", self.path, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = "http://127.0.0.1:%d" % server.server_address[1]
        monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL", base)
        settings.configure(site_home)
        from crawler.items import VideoItem
        item = VideoItem(site="fixture", platform="fixture", url=f"{base}/shorts/video/Ik4aD8wCb1",
                         media_id="Ik4aD8wCb1")
        out = ingest_item(store, item, _site())
        assert out.state == "fetched", out
        assert seen[0] == seen[1] == "/shorts/video/Ik4aD8wCb1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stored_clip_handed_to_the_matcher_gets_real_detection_ids(catalog_store, proxy, platform):
    """The crawler's on_clip_stored answer names the detections it raised, by their ids."""
    from crawler.ingest import ingest_item
    from earwitness.app.matching import match_stored_clip
    from earwitness.kernel.store.models import Detection
    video = next(v for v in platform.truth["videos"] if v["expect"] == "detect")
    out = ingest_item(catalog_store, _item(proxy, video["id"]), _site())
    assert out.state == "fetched", out
    found = match_stored_clip(catalog_store, out.clip_id)
    with catalog_store.session() as s:
        stored = {(d.work_id, d.id) for d in s.scalars(select(Detection).where(Detection.clip_id == out.clip_id))}
    assert found and set(found) == stored and all(det_id for _, det_id in found)
    assert [w for w, _ in found] == [video["track_id"]]
