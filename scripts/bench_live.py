"""How many rooms one core can watch continuously, and what a room costs in memory.

Runs the continuous-watch path (crawler.watch.watch_room: HTTP-FLV read, ffmpeg decode, rolling
buffer on disk, a 20 s window every 10 s stored as a clip and matched by the real matcher with its
SQLite store) on an FLV recording of the fixture platform's room808 programme served as fast as
the reader takes it, and prints CPU seconds per second of audio (this process + the ffmpeg
decoder), rooms per core (audio seconds / CPU seconds), and memory: the decoder's peak RSS, this
process's RSS growth during the watch, and the buffer's bytes on disk.

    python3 scripts/bench_live.py [--minutes 10] [--platform DIR]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def _rss_kib(pid: int | str = "self", key: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes of programme to watch")
    ap.add_argument("--platform", default=os.path.join(tempfile.gettempdir(), "earwitness-test-fixture-platform"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="earwitness-bench-live-"))
    os.environ["EARWITNESS_HOME"] = str(work / "home")
    from earwitness.kernel import settings
    settings.configure(work / "home")
    from earwitness.kernel.store import open_store
    from fixtures.build import build
    root = build(args.platform)
    store = open_store()
    from earwitness.app.catalog import import_manifest
    import_manifest(store, root / "catalog" / "manifest.csv")

    flv = work / "room808.flv"
    loops = max(1, int(round(args.minutes * 60 / 150)))
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", str(loops - 1), "-i",
                    str(root / "live" / "room808.wav"), "-c:a", "aac", "-b:a", "64k", "-f", "flv", str(flv)],
                   check=True)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(work), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/room808.flv"

    from crawler.live import Room
    from crawler.watch import watch_room
    from earwitness.app.matching import get_matcher, match_stored_clip
    get_matcher()   # the index is loaded once per process, not per room
    room = Room(url=url, platform="bench", room_id="room808", stream=url, protocol="flv")
    stop = threading.Event()
    decoder_peak = [0]

    def watch_children() -> None:   # the decoder's peak RSS; stop once the stream has ended
        me = os.getpid()
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        if int(Path(f"/proc/{pid}/stat").read_text().split()[3]) == me:
                            decoder_peak[0] = max(decoder_peak[0], _rss_kib(pid, "VmHWM"))
                    except (OSError, ValueError, IndexError):
                        pass
            time.sleep(0.5)

    threading.Thread(target=watch_children, daemon=True).start()
    rss0 = _rss_kib()
    cpu0, ch0, t0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    rep_holder = {}

    def run() -> None:
        rep_holder["rep"] = watch_room(store, room, on_clip_stored=match_stored_clip, stop=stop, evidence_s=5)

    th = threading.Thread(target=run)
    th.start()
    seen_pump = False
    while th.is_alive():   # the file is read once: stop the watch when its stream has ended
        pumping = any(t.name == "flv-pump" for t in threading.enumerate())
        seen_pump = seen_pump or pumping
        if seen_pump and not pumping:
            stop.set()
        th.join(timeout=0.2)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
    rep = rep_holder["rep"]
    audio = rep.audio_s
    per_audio_s = (cpu + child_cpu) / audio
    out = {
        "audio_s": round(audio, 1), "wall_s": round(wall, 1), "windows": rep.windows,
        "plays_matched": len(rep.sightings), "catalog_works": 12,
        "cpu_s_python": round(cpu, 2), "cpu_s_ffmpeg_decoder": round(child_cpu, 2),
        "cpu_s_per_audio_s": round(per_audio_s, 4), "rooms_per_core": round(1 / per_audio_s, 1),
        "decoder_peak_rss_mib": round(decoder_peak[0] / 1024, 1),
        "python_rss_growth_mib": round((_rss_kib() - rss0) / 1024, 1),
        "buffer_peak_mib": round(rep.buffer_peak_bytes / 2**20, 1),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(out, indent=1))
    httpd.shutdown()


if __name__ == "__main__":
    main()
