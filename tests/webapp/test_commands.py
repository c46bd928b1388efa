"""``earwitness users`` and ``earwitness serve`` through the real command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner
from sqlalchemy import select

from earwitness.app.cli import main
from webapp.models import User


def test_users_add_list_passwd_disable(home, store):
    runner = CliRunner()
    r = runner.invoke(main, ["--home", str(home), "users", "add", "ann", "--role", "analyst", "--password-stdin"],
                      input="a-good-password\n")
    assert r.exit_code == 0, r.output
    assert "added ann (analyst)" in r.output
    with store.session() as s:
        user = s.scalar(select(User).where(User.name == "ann"))
        assert user.role == "analyst" and "a-good-password" not in user.password_hash
    r = runner.invoke(main, ["--home", str(home), "users", "add", "ann", "--role", "legal", "--password-stdin"],
                      input="another-password\n")
    assert r.exit_code != 0 and "already exists" in r.output
    r = runner.invoke(main, ["--home", str(home), "users", "add", "bob", "--role", "boss", "--password-stdin"],
                      input="another-password\n")
    assert r.exit_code != 0 and "boss" in r.output
    r = runner.invoke(main, ["--home", str(home), "users", "add", "bob", "--role", "legal", "--password-stdin"],
                      input="short\n")
    assert r.exit_code != 0 and "at least 12" in r.output
    r = runner.invoke(main, ["--home", str(home), "users", "add", "bob", "--role", "admin", "--password-stdin"],
                      input="password1234\n")
    assert r.exit_code != 0 and "password refused" in r.output and "common" in r.output
    # the prompt asks twice and the two must agree
    r = runner.invoke(main, ["--home", str(home), "users", "add", "cy", "--role", "admin"],
                      input="first-password\nfirst-password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["--home", str(home), "users", "passwd", "ann", "--password-stdin"], input="tidal-quartz-lamp\n")
    assert r.exit_code == 0
    r = runner.invoke(main, ["--home", str(home), "users", "disable", "cy"])
    assert r.exit_code == 0
    r = runner.invoke(main, ["--home", str(home), "users", "list"])
    header, *lines = r.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "ROLE", "STATE"]
    assert sorted(line.split()[:3] for line in lines) == [["ann", "analyst", "active"], ["cy", "admin", "disabled"]]
    listed = json.loads(runner.invoke(main, ["--home", str(home), "users", "list", "--json"]).stdout)
    assert [(u["name"], u["active"]) for u in listed] == [("ann", True), ("cy", False)]
    assert "password" not in json.dumps(listed)
    csv_lines = runner.invoke(main, ["--home", str(home), "users", "list", "--format", "csv"]).stdout.splitlines()
    assert csv_lines[0] == "name,role,active,last_login_at" and csv_lines[2].startswith("cy,admin,False,")
    from webapp import auth
    with store.session() as s:
        assert auth.authenticate(s, "ann", "tidal-quartz-lamp") is not None
        assert auth.authenticate(s, "ann", "a-good-password") is None
        assert auth.authenticate(s, "cy", "first-password") is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_on_the_given_port_and_stops(home, store):
    port = _free_port()
    env = {**os.environ, "EARWITNESS_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "earwitness.app.cli", "serve", "--port", str(port),
                             "--workers", "1", "--threads", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
            assert b"Log in" in resp.read()
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0    # SIGTERM is a clean stop
    assert f"http://127.0.0.1:{port}/" in proc.stderr.read().decode()
