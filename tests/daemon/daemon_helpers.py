"""Daemon test helpers: a scheduler configuration of test jobs, and the daemon as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

DEFAULT_JOBS = yaml.safe_load((ROOT / "config" / "scheduler.yaml").read_text())["jobs"]


def write_config(home: Path, jobs: dict, **extra) -> None:
    """<home>/earwitness.yaml with only these jobs (the shipped ones switched off)."""
    all_jobs = {name: False for name in DEFAULT_JOBS}
    all_jobs.update(jobs)
    cfg = {"scheduler": {"jobs": all_jobs, "misfire_grace_s": 60, **extra}}
    (home / "earwitness.yaml").write_text(yaml.safe_dump(cfg))
    from earwitness.kernel import settings
    settings.configure(home)


class Daemon:
    """``earwitness daemon`` in its own process."""

    def __init__(self, home: Path, *args: str) -> None:
        env = dict(os.environ, EARWITNESS_HOME=str(home),
                   PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.log = open(home / "daemon.log", "ab")
        self.offset = self.log.tell()             # this process's output starts here
        self.proc = subprocess.Popen([sys.executable, "-m", "earwitness.app.cli", "-v", "daemon", *args],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.home = home

    def output(self) -> str:
        with open(self.home / "daemon.log", "rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode(errors="replace")

    def wait_output(self, text: str, timeout_s: float = 30) -> None:
        end = time.monotonic() + timeout_s
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"{text!r} not in daemon output:\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self.log.close()
