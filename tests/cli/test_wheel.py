"""A built wheel works from any directory: it carries config/ (defaults, sites, letter templates,
Kibana objects) and needs no checkout. Slow: builds the wheel and installs it into a fresh venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "setup.py", "README.md", "scheduler.py", "config", "earwitness", "matchers",
           "crawler", "notices", "fixtures", "webapp"]


def sh(*cmd, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_wheel_installs_and_runs_from_another_directory(tmp_path):
    src = tmp_path / "src"
    for name in SOURCES:          # a copy, so the build never touches the shared checkout
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", src, cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("earwitness-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in Path(ROOT / "config").rglob("*"):
        if shipped.is_file():
            assert f"earwitness/config/{shipped.relative_to(ROOT / 'config').as_posix()}" in names, shipped
    assert "earwitness/kernel/store/migrations/env.py" in names and "webapp/templates/base.html" in names

    venv = tmp_path / "venv"
    # the dependencies come from this environment (no download); the project itself only from the wheel
    sh(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    sh(venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EARWITNESS") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env["HOME"] = str(tmp_path / "user")
    where = sh(venv / "bin" / "python", "-c", "import earwitness; print(earwitness.__file__)", cwd=elsewhere, env=env)
    site = Path(where.stdout.strip()).parent.parent
    assert site.is_relative_to(venv), where.stdout          # the wheel's copy, not the editable checkout

    demo_help = sh(venv / "bin" / "earwitness", "demo", "--help", cwd=elsewhere, env=env)
    assert "--port" in demo_help.stdout
    shown = json.loads(sh(venv / "bin" / "earwitness", "config", "show", "--origin", "--json",
                          cwd=elsewhere, env=env).stdout)
    assert shown["matcher.threshold"] == {"value": 11.0, "origin": str(site / "earwitness" / "config" / "matcher.yaml")}
    assert shown["home"]["value"] == str(tmp_path / "user" / ".local" / "share" / "earwitness")
    origins = {v["origin"] for v in shown.values()}
    assert origins and all(o.startswith(str(site / "earwitness" / "config")) for o in origins), origins
    assert not (elsewhere / "var").exists()
