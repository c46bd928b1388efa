"""A DASH live room: capture claims DASH (ffmpeg reads the MPD with -rw_timeout), so here is one. ffmpeg's
own DASH muxer makes a live MPD with a sliding window from a fixture room's programme (in real time,
looping), a local HTTP server serves it, and a window sampled through crawler.capture is matched to
the programme's catalog songs; a room whose MPD goes away ends its window with an outcome."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def dash_room(platform_root, tmp_path):
    """``(url, stop)``: a live DASH stream of room404's loop on 127.0.0.1; ``stop()`` ends it."""
    out = tmp_path / "dash"
    out.mkdir()
    proc = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
         "-i", str(platform_root / "live" / "room404.wav"), "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "1",
         "-f", "dash", "-seg_duration", "2", "-window_size", "8", "-extra_window_size", "2", "-use_template", "1",
         "-use_timeline", "1", "-remove_at_exit", "1", str(out / "manifest.mpd")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(out.glob("chunk-*.m4s"))) < 4:
        assert proc.poll() is None, proc.stderr.read().decode()[-300:]
        time.sleep(0.2)
    url = "http://127.0.0.1:%d/manifest.mpd" % server.server_address[1]

    def stop():
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=5)
        shutil.rmtree(out, ignore_errors=True)
    yield url, stop
    stop()
    server.shutdown()
    server.server_close()


def test_a_dash_live_room_is_sampled_and_matched(live_store, dash_room):
    from crawler.live import LiveReport, resolve_room, sample_room
    from earwitness.app.matching import match_stored_clip
    url, _ = dash_room
    room = resolve_room(url, None)                       # a direct .mpd URL
    assert room.protocol == "dash" and room.is_live
    report = LiveReport()
    out = sample_room(live_store, room, window_s=25, evidence_s=0, report=report, on_clip_stored=match_stored_clip)
    assert out["outcome"] == "ok" and out["captured_s"] >= 24, out
    # room404's loop (60 s) plays demo004 and demo007 for 24 s each: 25 s always hold 10 s of one
    assert report.windows == 1 and set(report.work_ids) & {"demo004", "demo007"}, report
    assert not set(report.work_ids) - {"demo004", "demo007"}, report


def test_a_dash_room_that_goes_away_ends_its_window_with_an_outcome(live_store, dash_room):
    from crawler.capture import Bounds
    from crawler.live import LiveReport, resolve_room, sample_room
    from earwitness.app.matching import match_stored_clip
    url, stop = dash_room
    room = resolve_room(url, None)
    stop()                                               # the stream ends: MPD and segments gone
    report = LiveReport()
    t0 = time.monotonic()
    out = sample_room(live_store, room, window_s=20, evidence_s=0, report=report, on_clip_stored=match_stored_clip,
                      bounds=Bounds(stall_s=3, grace_s=5, max_bytes=64 << 20, max_playlist_bytes=1 << 20))
    assert time.monotonic() - t0 < 20 + 5 + 10 + 5, out                  # within window + grace (+ context)
    assert out["outcome"] in ("offline", "transient") and out["captured_s"] == 0.0, out
    assert report.windows == 0
