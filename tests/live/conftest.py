"""Live-room tests: the fixture platform (with its FLV, ad, offline and trickling rooms), a data home
pointing the ``fixture`` site at it, the catalog imported; a forward proxy that records requests."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tests.crawler.conftest import platform, platform_root  # noqa: F401


@pytest.fixture
def live_home(home, monkeypatch, platform):
    """A data home whose ``fixture`` site is the running platform (streams are endless: no buffering
    proxy in between)."""
    from earwitness.kernel import settings
    platform.reset()
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL", platform.url)
    settings.configure(home)
    return home


@pytest.fixture
def live_store(live_home, store, platform_root):
    """The store with the platform's catalog imported (works + fingerprint index)."""
    from earwitness.app.catalog import import_manifest
    import_manifest(store, platform_root / "catalog" / "manifest.csv")
    return store


def programme_position(prog: dict, epoch: float) -> float:
    """Where in its loop a room was at wall time ``epoch`` (programme seconds)."""
    return (epoch - prog["loop_start_epoch"]) % prog["loop_duration_s"]


def expected_ref_offset(prog: dict, work_id: str, epoch: float) -> float | None:
    """The second of ``work_id`` the room played at ``epoch`` by its schedule, or None if not playing it."""
    pos = programme_position(prog, epoch)
    for it in prog["items"]:
        if it["track_id"] == work_id and it["start_s"] - 1.0 <= pos < it["end_s"] + 1.0:
            return it["source_offset_s"] + (pos - it["start_s"])
    return None


class RecordingForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 (absolute-URI requests) that streams bodies and records,
    per request, the URL and the headers it carried (User-Agent, Cookie)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                with lock:
                    outer.requests.append({"url": self.path, "user_agent": self.headers.get("User-Agent"),
                                           "cookie": self.headers.get("Cookie")})
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-connection", "connection")}
                conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
                resp = conn.getresponse()
                self.send_response(resp.status)
                length = resp.getheader("Content-Length")
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection"):
                        self.send_header(k, v)
                if length is None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    while True:
                        data = resp.read1(65536)
                        if not data:
                            break
                        self.wfile.write(data)
                        self.wfile.flush()
                except OSError:
                    pass
                finally:
                    conn.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forward_proxy():
    p = RecordingForwardProxy()
    yield p
    p.close()


@pytest.fixture
def programme(platform):
    """The programme (and loop clock) of a room, starting its stream."""
    import json
    import urllib.request

    def get(room_id: str) -> dict:
        with urllib.request.urlopen(f"{platform.url}/live/api/rooms/{room_id}/programme", timeout=30) as r:
            return json.load(r)
    return get


def wait_until_programme(prog: dict, position_s: float) -> None:
    """Sleep until the room's loop reaches ``position_s``."""
    now = programme_position(prog, time.time())
    time.sleep((position_s - now) % prog["loop_duration_s"])
