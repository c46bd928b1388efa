"""The load test tool itself, at a small scale: it seeds, serves with gunicorn, measures and stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_loadtest_prints_percentiles_and_memory(tmp_path):
    from webapp.loadtest import PAGES
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARWITNESS")}
    run = subprocess.run([sys.executable, "-m", "webapp.loadtest", "--pending", "60", "--cases", "20",
                          "--workers", "2", "--threads", "2", "--clients", "2", "--rounds", "4", "--bad-logins", "6",
                          "--max-seconds", "300", "--home", str(tmp_path / "home")],
                         capture_output=True, text=True, timeout=400, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "seeded 60 pending detections and 20 cases" in out
    for name in PAGES:
        assert re.search(rf"^{re.escape(name)}\s+\d+\s+\d+\s+\d+$", out, re.M), name
    m = re.search(r"6 concurrent bad logins in [\d.]+ s: answers \{401: 6\}; server memory (\d+) MiB before, "
                  r"(\d+) MiB peak", out)
    assert m and int(m.group(2)) >= int(m.group(1)) > 50
