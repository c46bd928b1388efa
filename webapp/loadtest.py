"""A bounded load test of the production server on 127.0.0.1 (``python -m webapp.loadtest``).

Seeds a fresh data home with ``--pending`` pending detections and ``--cases``
cases (each with its confirmed detection), starts ``earwitness serve`` with
``--workers`` gunicorn workers, then

1. requests each page ``--rounds`` times from ``--clients`` concurrent clients and
   prints p50 and p95 per page;
2. sends ``--bad-logins`` wrong-password logins at once (distinct names, the
   per-address throttle raised so every one reaches scrypt: the worst case) and
   samples the server's total resident memory (master and workers, from /proc)
   before and during the burst.

Everything talks to 127.0.0.1 only; the whole run stops after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

PAGES = {
    "queue p1": "/review/",
    "queue p100": "/review/?page=100",
    "queue by score": "/review/?sort=score",
    "queue search": "/review/?q=clip+00042",
    "queue by uploader": "/review/?group=uploader",
    "detection": "/review/{det}",
    "cases p1": "/cases/",
    "cases p50": "/cases/?page=50",
    "cases search": "/cases/?q=item+0042",
    "letters": "/notices/",
    "overview": "/",
}


def seed(home: Path, *, pending: int, cases: int) -> tuple[str, str]:
    """Records for the run, inserted in bulk; returns (a pending detection id, the admin password)."""
    os.environ["EARWITNESS_HOME"] = str(home)
    from sqlalchemy import insert

    from earwitness.kernel.store import open_store
    from earwitness.kernel.store.case_models import Case, case_detections
    from earwitness.kernel.store.ids import new_id
    from earwitness.kernel.store.models import Clip, Detection, Work
    from webapp import auth
    from webapp.passwords import Policy
    store = open_store()
    now = datetime.now(timezone.utc)
    password = "load-test-admin-4711"
    with store.session() as s:
        for w in range(20):
            s.add(Work(id=f"w{w:03d}", title=f"Work {w:03d}", artist="Load Artist", owner="Load Records",
                       source_path=f"catalog/w{w:03d}.wav", duration_s=180.0))
        auth.create_user(s, "admin", role="admin", password=password, policy=Policy())
        s.flush()
        clips, dets, case_rows, links = [], [], [], []
        for i in range(pending + cases):
            clip_id, det_id = new_id(), new_id()
            confirmed = i >= pending
            clips.append(dict(id=clip_id, platform=f"plat{i % 3}", url=f"http://127.0.0.1:9/v/{i}", media_id=f"m{i:06d}",
                              title=f"clip {i:05d}", uploader=f"uploader_{i % 400}", captured_at=now,
                              view_count=(i * 7919) % 100000, is_live=False, licensed=False, status="matched",
                              duration_s=30.0, audio_sha256=f"{i:064x}"))
            dets.append(dict(id=det_id, clip_id=clip_id, work_id=f"w{i % 20:03d}", clip_offset_s=1.0, ref_offset_s=5.0,
                             duration_s=5 + i % 20, score=11 + (i * 31) % 50, pitch_semitones=0.0, tempo_ratio=1.0,
                             matched_peaks=40, matcher_version="load", created_at=now - timedelta(seconds=i),
                             review_state="confirmed" if confirmed else "pending",
                             reviewed_by="admin" if confirmed else None))
            if confirmed:
                case_id = new_id()
                case_rows.append(dict(id=case_id, platform=f"plat{i % 3}", media_id=f"m{i:06d}", url=f"http://127.0.0.1:9/v/{i}",
                                      uploader=f"uploader_{i % 400}", title=f"item {i - pending:05d}", state="confirmed",
                                      opened_at=now - timedelta(minutes=i), state_since=now, updated_at=now))
                links.append(dict(case_id=case_id, detection_id=det_id))
        s.execute(insert(Clip), clips)
        s.execute(insert(Detection), dets)
        if case_rows:
            s.execute(insert(Case), case_rows)
            s.execute(insert(case_detections), links)
    store.dispose()
    return dets[0]["id"], password


def server_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, KiB (from /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, AttributeError):
            continue
    return total


class Client:
    """One logged-in browser: a keep-alive connection and the session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return resp.status, data

    def login(self, name: str, password: str) -> int:
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        status, _ = self.request("POST", "/login", {"name": name, "password": password, "csrf_token": token})
        return status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pending", type=int, default=10_000)
    ap.add_argument("--cases", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--bad-logins", type=int, default=50)
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--skip-pages", action="store_true", help="only the bad-login burst")
    ap.add_argument("--home", type=Path, default=None, help="data home to create (default: a temporary folder)")
    args = ap.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="ew-load-"))
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    det_id, password = seed(home, pending=args.pending, cases=args.cases)
    print(f"seeded {args.pending} pending detections and {args.cases} cases in {time.monotonic() - t0:.1f} s "
          f"({home})", flush=True)
    port = free_port()
    env = {**os.environ, "EARWITNESS_HOME": str(home),
           "EARWITNESS__WEBAPP__LOGIN_THROTTLE__PER_ADDRESS": "100000"}
    server = subprocess.Popen([sys.executable, "-m", "earwitness.app.cli", "serve", "--port", str(port),
                               "--workers", str(args.workers), "--threads", str(args.threads)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = t0 + args.max_seconds
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.3)
        clients = [Client(port) for _ in range(args.clients)]
        for c in clients:
            assert c.login("admin", password) == 302, "load-test login failed"
        time.sleep(2)
        print(f"server: {args.workers} workers x {args.threads} threads; {args.clients} clients; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
        print(f"{'page':<20}{'p50 ms':>9}{'p95 ms':>9}{'KiB':>8}", flush=True)
        results = {}
        for name, path in ({} if args.skip_pages else PAGES).items():
            path = path.format(det=det_id)
            times: list[float] = []
            size = [0]

            def hit(c: Client, n: int) -> None:
                for _ in range(n):
                    if time.monotonic() > deadline:
                        return
                    start = time.perf_counter()
                    status, body = c.request("GET", path)
                    times.append((time.perf_counter() - start) * 1000)
                    size[0] = len(body)
                    if status != 200:
                        raise SystemExit(f"{path}: HTTP {status}")
            per = max(1, args.rounds // args.clients)
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda c: hit(c, per), clients))
            times.sort()
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            results[name] = (p50, p95)
            print(f"{name:<20}{p50:>9.0f}{p95:>9.0f}{size[0] / 1024:>8.0f}", flush=True)
        # memory during a burst of bad logins
        time.sleep(1)
        base = server_rss_kib(server.pid)
        peak = [base]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], server_rss_kib(server.pid))
                time.sleep(0.05)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        statuses: list[int] = []
        barrier = threading.Barrier(args.bad_logins)

        def bad(i: int) -> None:
            c = Client(port)
            _, page = c.request("GET", "/login")
            token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
            barrier.wait(timeout=60)
            statuses.append(c.request("POST", "/login", {"name": f"nobody{i}", "password": f"wrong-{i}",
                                                         "csrf_token": token})[0])
        start = time.perf_counter()
        with ThreadPoolExecutor(args.bad_logins) as pool:
            list(pool.map(bad, range(args.bad_logins)))
        burst_s = time.perf_counter() - start
        stop.set()
        sampler.join()
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        print(f"{args.bad_logins} concurrent bad logins in {burst_s:.1f} s: answers {counts}; server memory "
              f"{base / 1024:.0f} MiB before, {peak[0] / 1024:.0f} MiB peak (+{(peak[0] - base) / 1024:.0f} MiB)",
              flush=True)
        return 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
