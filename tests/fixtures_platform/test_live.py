"""The live site: ffmpeg's HLS playlist advances, can be recorded, matches its programme; no orphans."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import wave

import numpy as np
import pytest

from tests.fixtures_platform.client import Http

pytestmark = pytest.mark.slow
SR = 22050


def _playlist(http, room="room101"):
    status, headers, body = http.get(f"/live/hls/{room}/index.m3u8")
    assert status == 200 and headers["Content-Type"] == "application/vnd.apple.mpegurl"
    text = body.decode()
    return int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1)), re.findall(r"^(seg\d+\.ts)$", text, re.M)


def _read_wav(path):
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def _locate(clip, loop):
    """Where in the (circular) loop ``clip`` starts, in seconds, and how clear the peak is."""
    n = 1 << int(np.ceil(np.log2(len(loop) + len(clip))))
    ext = np.concatenate([loop, loop[:len(clip)]])
    corr = np.fft.irfft(np.fft.rfft(ext, n) * np.conj(np.fft.rfft(clip, n)), n)[:len(loop)]
    best = int(np.argmax(corr))
    return best / SR, corr[best] / (np.median(np.abs(corr)) + 1e-9)


def test_live_playlist_advances_and_ffmpeg_records_the_scheduled_programme(platform_root, home, tmp_path):
    from fixtures.platform import serve
    with serve(port=0, root=platform_root, build=False, hls_list_size=3) as server:
        http = Http(server.url)
        status, prog = http.json("/live/api/rooms/room101/programme")
        assert status == 200 and prog["running"] and prog["loop_duration_s"] == 60
        assert any(i["kind"] == "catalog" for i in prog["items"])
        assert abs(prog["loop_start_epoch"] - time.time()) < 30
        seq1, segs1 = _playlist(http)
        time.sleep(4.5)
        seq2, segs2 = _playlist(http)
        assert (seq2, segs2[-1]) > (seq1, segs1[-1]), "the live playlist advances"
        assert len(segs2) <= 3
        status, headers, body = http.get(f"/live/hls/room101/{segs2[-1]}")
        assert status == 200 and headers["Content-Type"] == "video/mp2t" and body[:1] == b"G"  # TS sync byte
        deadline = time.monotonic() + 30  # old segments leave the window and are deleted
        while http.get("/live/hls/room101/seg000000.ts")[0] != 404:
            assert time.monotonic() < deadline, "the first segment was never deleted"
            time.sleep(1)
        assert _playlist(http)[0] > 0

        out = tmp_path / "window.wav"
        started = time.time()
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-live_start_index", "-1",
                        "-i", f"{server.url}/live/hls/room101/index.m3u8", "-t", "4", "-vn", "-ac", "1",
                        "-ar", str(SR), "-y", str(out)], check=True, timeout=30)
        clip = _read_wav(out)
        assert len(clip) / SR == pytest.approx(4.0, abs=0.1)
        loop = _read_wav(platform_root / "live" / "room101.wav")
        pos, clarity = _locate(clip, loop)
        assert clarity > 20, "the recording is the room's programme"
        loop_s = prog["loop_duration_s"]
        now = (started - prog["loop_start_epoch"]) % loop_s
        lag = (now - pos + loop_s / 2) % loop_s - loop_s / 2
        # the recording starts at the newest segment: ~1-2 segments behind the schedule's "now"
        # (less if the recorder started late on a busy machine)
        assert -3 < lag < 2 * server.platform.options.hls_time_s + 1.5, \
            f"programme says {now:.1f} s, recording is at {pos:.1f} s"
        # and it starts on a segment boundary counted from loop_start (to within a few AAC frames)
        seg = server.platform.options.hls_time_s
        assert min(pos % seg, seg - pos % seg) < 0.15, f"recording starts at {pos:.2f} s of the loop"
    assert server.ffmpeg_pids() == []


def test_close_stops_every_ffmpeg(platform):
    http = Http(platform.url)
    for room in ("room101", "room202"):
        assert http.json(f"/live/api/rooms/{room}/programme")[1]["running"]
    pids = platform.ffmpeg_pids()
    assert len(pids) == 2
    platform.close()
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"ffmpeg {pid} survived close()"


def _children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _gone(pids, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{p}") for p in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_serve_command_leaves_no_ffmpeg_behind(platform_root, home, how):
    """Ctrl-C stops the server cleanly; even SIGKILL leaves no ffmpeg running (PR_SET_PDEATHSIG)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EARWITNESS_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "earwitness.app.cli", "fixtures", "serve", "--port", "0",
                             "--root", str(platform_root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)
        with urllib.request.urlopen(f"{url}/live/api/rooms/room101/programme", timeout=20) as r:
            assert json.load(r)["running"]
        ffmpegs = [p for p in _children(proc.pid) if "ffmpeg" in open(f"/proc/{p}/cmdline").read()]
        assert ffmpegs
        proc.send_signal(how)
        rc = proc.wait(timeout=15)
        assert rc == (0 if how == signal.SIGINT else -signal.SIGKILL)
        assert _gone(ffmpegs), "ffmpeg outlived the server"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
