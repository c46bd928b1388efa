"""`earwitness serve` on gunicorn with several workers on 127.0.0.1: one signing key for all of them
(flash messages survive whichever worker answers), HSTS behind HTTPS, the proxy's client address."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.webapp.conftest import Browserless

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve(home, store, users):
    """Start `earwitness serve` with extra settings (environment); yields its base URL."""
    procs = []

    def start(workers: int = 2, **env_settings: str) -> str:
        port = _free_port()
        env = {**os.environ, "EARWITNESS_HOME": str(home),
               **{f"EARWITNESS__WEBAPP__{k.upper()}": v for k, v in env_settings.items()}}
        proc = subprocess.Popen([sys.executable, "-m", "earwitness.app.cli", "serve", "--port", str(port),
                                 "--workers", str(workers), "--threads", "2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    return f"http://127.0.0.1:{port}"
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.3)

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0


def test_flash_messages_survive_any_worker(serve, home, users):
    base = serve(workers=3)
    key = home / "webapp" / "secret_key"
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600
    admin = Browserless(base)
    assert admin.login("ada", users["ada"]).status == 302
    token = admin.csrf("/users/")
    for i in range(12):
        r = admin.post("/users/", {"csrf_token": token, "name": f"weak{i}", "role": "analyst", "password": "aaaaaaaaaaaa"})
        assert r.status == 302
        page = admin.get("/users/").text
        assert "password refused" in page, f"round {i}: the flash message was lost"


def test_hsts_when_cookies_are_secure_and_the_proxy_address(serve, store, users):
    plain = serve(workers=1)
    assert "Strict-Transport-Security" not in urllib.request.urlopen(plain + "/login").headers
    base = serve(workers=2, secure_cookies="true", proxy_count="1")
    r = urllib.request.urlopen(urllib.request.Request(base + "/login", headers={"X-Forwarded-Proto": "https"}))
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in r.headers["Set-Cookie"]
    # a failed login through the proxy is recorded with the client's address, not the proxy's
    # (the Secure cookie is handed back by hand: this test client speaks plain HTTP to the app)
    page = urllib.request.urlopen(urllib.request.Request(base + "/login", headers={"X-Forwarded-Proto": "https"}))
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
    body = urllib.parse.urlencode({"name": "ann", "password": "wrong-password-1", "csrf_token": token}).encode()
    req = urllib.request.Request(base + "/login", data=body, headers={
        "Cookie": cookie, "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req)
    assert refused.value.code == 401
    from sqlalchemy import select

    from webapp.models import AuditEntry
    with store.session() as s:
        assert s.scalar(select(AuditEntry.remote_addr).where(AuditEntry.action == "login_failed")) == "203.0.113.9"
