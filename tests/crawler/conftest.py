"""Crawler test fixtures: the fixture platform (built once per session), a counting proxy in front
of it, and a data home whose settings point the ``fixture`` site at it."""

from __future__ import annotations

import http.client
import os
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

RECORDED = Path(__file__).parent / "recorded"


@pytest.fixture(scope="session")
def platform_root():
    """The built fixture platform, cached across test runs (building takes ~20 s)."""
    from fixtures.build import build
    root = Path(os.environ.get("EARWITNESS_TEST_PLATFORM",
                               Path(tempfile.gettempdir()) / "earwitness-test-fixture-platform"))
    return build(root)


@pytest.fixture(scope="session")
def platform(platform_root):
    from fixtures.platform import serve
    server = serve(port=0, root=platform_root, build=False)
    yield server
    server.close()


class CountingProxy:
    """A reverse proxy on 127.0.0.1 that forwards to the platform and counts each GET by path.

    The platform builds absolute URLs from the Host header, so everything a crawl
    sees (pages, API, media) goes through here and is counted.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.split("//", 1)[1].split(":")
        self.hits: Counter = Counter()
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                rng = self.headers.get("Range") or ""
                resumed = bool(rng) and not rng.startswith("bytes=0-")
                with lock:
                    outer.hits[(self.command + (" resume" if resumed else ""), self.path.split("?")[0])] += 1
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                body = None
                if self.headers.get("Content-Length"):
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_HEAD = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def media_gets(self, *, resumed: bool = False) -> Counter:
        """Full GETs of media files (or, with ``resumed``, GETs with a Range that starts past 0)."""
        method = "GET resume" if resumed else "GET"
        return Counter({p: n for (m, p), n in self.hits.items() if m == method and p.startswith("/shorts/media/")})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(platform):
    platform.reset()
    p = CountingProxy(platform.url)
    yield p
    p.close()


@pytest.fixture
def site_home(home, monkeypatch, proxy):
    """A data home whose ``fixture`` site points at the counting proxy; fast retries."""
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL", proxy.url)
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__BACKOFF_BASE_S", "0.2")
    settings.configure(home)
    return home


@pytest.fixture
def catalog_store(site_home, store, platform_root):
    """The store with the platform's catalog imported (works + fingerprint index)."""
    from earwitness.app.catalog import import_manifest
    import_manifest(store, platform_root / "catalog" / "manifest.csv")
    return store


@pytest.fixture(autouse=True)
def fresh_politeness():
    """Each test starts with no per-domain pace or Retry-After hold (one crawl process has one)."""
    from crawler import politeness
    politeness.reset()
    yield
    politeness.reset()


@pytest.fixture
def app_client():
    """The review app (as ``earwitness serve`` wires it) on ``store``, with an analyst logged in: Flask's
    test client, for pages that only read."""
    import re

    def make(store):
        from earwitness.app.web import services
        from webapp import auth, create_app
        with store.session() as s:
            auth.create_user(s, "ann", role="analyst", password="analyst-pass-1")
        client = create_app(store, services=services()).test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
        got = client.post("/login", data={"name": "ann", "password": "analyst-pass-1", "csrf_token": token,
                                          "next": "/"})
        assert got.status_code in (302, 303), got.status_code
        return client
    return make
