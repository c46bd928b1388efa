"""The fault suite: each fault gives a one-line error, the run recorded as failed, nothing stored lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "concurrency"))
sys.path.insert(0, str(HERE.parent / "daemon"))
sys.path.insert(0, str(HERE))   # job_results: job functions of the fault suite

from race_seeding import Seeder  # noqa: E402


def _load_elastic_fixtures():
    import importlib.util
    spec = importlib.util.spec_from_file_location("elastic_fixtures_faults", HERE.parent / "elastic" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_elastic = _load_elastic_fixtures()
search_server = _elastic.search_server
es_settings = _elastic.es_settings


@pytest.fixture
def seed(home, store):
    return Seeder(home, store)


@pytest.fixture
def mount_tmpfs():
    """Mount a small tmpfs (or remount one read-only); needs the right to mount (root here and in CI)."""
    mounted: list[Path] = []

    def mount(path: Path, size: str = "2m", readonly: bool = False) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        opts = f"size={size}" + (",ro" if readonly else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(path)
        return path

    def remount_readonly(path: Path) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)

    def unmount(path: Path) -> None:
        subprocess.run(["umount", str(path)], check=True)
        mounted.remove(path)

    mount.remount_readonly = remount_readonly
    mount.unmount = unmount
    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def daemons():
    """``earwitness daemon`` processes, killed at the end if still running."""
    from daemon_helpers import Daemon
    started = []

    def start(home, *args):
        d = Daemon(home, *args)
        started.append(d)
        return d
    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
