"""The README's "First ten minutes" runs as written, in order, in a fresh data home. Slow: the demo."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """The command lines of the README's "First ten minutes" block, comments stripped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## First ten minutes", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_the_section_is_what_a_new_user_needs():
    commands = readme_commands()
    assert commands[0] == "earwitness demo" and all(c.startswith("earwitness ") for c in commands)
    # the demo's closing hint points at commands this section shows
    demo_source = (ROOT / "earwitness" / "app" / "demo.py").read_text()
    for hint in ("detections list", "cases list", "status"):
        assert f"earwitness{{home_flag}} {hint}" in demo_source and f"earwitness {hint}" in commands


def test_first_ten_minutes_run_in_order(tmp_path):
    from fixtures.build import build
    platform_root = build(Path(os.environ.get("EARWITNESS_TEST_PLATFORM",
                                              Path(tempfile.gettempdir()) / "earwitness-test-fixture-platform")))
    home = tmp_path / "user" / ".local" / "share" / "earwitness"
    bindir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARWITNESS")}
    env.update(HOME=str(tmp_path / "user"),                       # the default data home lands in here
               EARWITNESS__FIXTURES__ROOT=str(platform_root),       # the platform build is cached between runs
               PATH=os.pathsep.join([str(bindir), env.get("PATH", "")]))
    outputs = {}
    for command in readme_commands():
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, (command, proc.stdout[-3000:], proc.stderr[-3000:])
        outputs[command] = proc.stdout
    assert f"data home {home}" in outputs["earwitness demo"]
    assert outputs["earwitness status"].startswith(f"data home: {home}")
    detections = outputs["earwitness detections list"].splitlines()
    assert detections[0].split()[:3] == ["ID", "WORK", "PLATFORM"] and len(detections) > 8
    rows = list(csv.DictReader(outputs["earwitness detections list --format csv"].splitlines()))
    assert len(rows) == len(detections) - 1 and all(r["detection_id"] for r in rows)
    assert outputs["earwitness cases list"].splitlines()[0].split()[:2] == ["ID", "STATE"]
    assert "matcher.threshold" in outputs["earwitness config show matcher --origin"]
    assert not (tmp_path / "var").exists()                          # nothing landed in the current directory
