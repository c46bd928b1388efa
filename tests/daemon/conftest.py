"""Daemon test fixtures (helpers live in ``daemon_helpers``, importable by the tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_helpers import Daemon  # noqa: E402


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(home, *args):
        d = Daemon(home, *args)
        started.append(d)
        return d
    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
