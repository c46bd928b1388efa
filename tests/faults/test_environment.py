"""Issue 16, failures 7 and 8 (environment): full disk, read-only home, unreachable store, SIGTERM mid-job.

Each fault gives one line naming the path and what to do, the run is recorded as
failed where the store can be written, and nothing already stored is lost.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from earwitness.kernel.store.case_models import EvidenceBundle


def _cli(home, *args, env=None):
    from earwitness.app.cli import main
    return CliRunner().invoke(main, ["--home", str(home), *args], env=env)


def _confirmed(store, seed, media_id: str) -> str:
    from notices import review
    det = seed.detection(media_id=media_id)
    with store.session() as s:
        review.confirm(s, det, actor="analyst")
    return det


def _status_of(home, job: str) -> dict:
    st = json.loads(_cli(home, "status", "--json").stdout)
    return next(r for r in st["jobs"] if r["job"] == job)


def test_a_full_disk_is_one_line_a_failed_run_and_loses_nothing(home, store, seed, mount_tmpfs):
    from notices import ledger
    first = _confirmed(store, seed, "kept")
    assert _cli(home, "daemon", "--once", "--only", "evidence").exit_code == 0
    objects = home / "evidence" / "objects"
    kept = {p.relative_to(objects): p.read_bytes() for p in objects.rglob("*") if p.is_file()}
    moved = objects.rename(home / "evidence" / "objects-kept")
    mount_tmpfs(objects, size="4k")                 # the object store's disk is full
    _confirmed(store, seed, "new")
    res = _cli(home, "daemon", "--once", "--only", "evidence")
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    line = next(ln for ln in res.output.splitlines() if ln.strip().startswith("evidence"))
    assert "No space left on device" in line, res.output
    row = _status_of(home, "evidence")
    assert row["last_status"] == "failed" and "No space left on device" in row["last_error"]
    mount_tmpfs.unmount(objects)
    objects.rmdir()
    moved.rename(objects)
    assert {p.relative_to(objects): p.read_bytes() for p in objects.rglob("*") if p.is_file()} == kept
    with store.session() as s:
        assert [b.detection_id for b in s.scalars(select(EvidenceBundle))] == [first]
    assert ledger.verify(home, store=store).ok


def test_a_read_only_home_is_one_line_and_the_run_is_recorded(tmp_path, monkeypatch, mount_tmpfs):
    from earwitness.kernel import settings
    from earwitness.kernel.store import Store
    home = mount_tmpfs(tmp_path / "home")
    monkeypatch.setenv("EARWITNESS_HOME", str(home))
    monkeypatch.setenv("EARWITNESS__STORE_URL", f"sqlite:///{tmp_path}/store/earwitness.db")   # the store elsewhere
    settings.configure(home)
    Store(settings.get().store_url).dispose()
    mount_tmpfs.remount_readonly(home)
    res = _cli(home, "daemon", "--once", "--only", "match")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1].startswith("Error: read-only file system: cannot write")
    assert str(home) in res.output and "make the data home writable" in res.output
    row = _status_of(home, "match")
    assert row["last_status"] == "failed" and "read-only file system" in row["last_error"]
    settings.configure(None)


def test_an_unreachable_store_is_one_line(home):
    env = {"EARWITNESS__STORE_URL": "postgresql+psycopg://earwitness@127.0.0.1:9/earwitness?connect_timeout=2"}
    for args in (("daemon", "--once"), ("status",)):
        res = _cli(home, *args, env=env)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: the store is unreachable"), res.output
        assert "check store_url" in lines[0]


def test_sigterm_ends_the_daemon_within_seconds_even_mid_job(home, store, daemons):
    from daemon_helpers import write_config
    from earwitness.app.daemon_models import JobRun
    from jobfuncs import wait_for
    write_config(home, {"stuck": {"func": "time:sleep", "args": [120], "trigger": {"interval": {"hours": 1}}},
                        "touch": {"func": "jobfuncs:tick", "trigger": {"interval": {"hours": 1}}}})
    d = daemons(home)
    wait_for(home / "ticks.txt")
    time.sleep(1.0)
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM, timeout_s=30) == 0
    assert time.monotonic() - t0 < 20
    assert "daemon: stopped" in d.output()
    with store.session() as s:
        run = s.scalars(select(JobRun).where(JobRun.job_id == "stuck")).one()
    assert run.status == "interrupted" and "stopped" in run.error


UNREACHABLE_SITE = """
name: unreachable
platform: unreachable
kind: ytdlp
base_url: http://127.0.0.1:{port}
start_urls: ["{{base_url}}/feed.rss"]
screenshot: false
obey_robots: false
video:
  url_pattern: "/(?P<id>[^/?#]+)$"
"""


@pytest.mark.slow
def test_an_unreachable_site_is_a_failed_crawl_run(home, store, monkeypatch):
    """Failure 6: a crawl whose every listing failed (connection refused) is failed, exits 1, shows red."""
    import socket
    from earwitness.kernel import settings
    with socket.socket() as sock:               # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for key, value in {"RETRY__TIMES": "0", "RETRY__BACKOFF_BASE_S": "0.05"}.items():
        monkeypatch.setenv(f"EARWITNESS__CRAWLER__{key}", value)
    (home / "sites").mkdir(exist_ok=True)
    (home / "sites" / "unreachable.yaml").write_text(UNREACHABLE_SITE.format(port=port))
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"scheduler": {"sites": {"unreachable": {}}}}))
    settings.configure(home)
    res = _cli(home, "daemon", "--once", "--only", "crawl:unreachable")
    assert res.exit_code == 1, res.output
    row = _status_of(home, "crawl:unreachable")
    assert row["last_status"] == "failed" and "every listing failed" in row["last_error"], row
