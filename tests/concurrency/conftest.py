"""Two real processes racing on one store, on SQLite and on PostgreSQL.

``race.start(action, *args, pause="module:function:after", name=...)`` runs
``racer.py`` in its own process against the test's store; ``race.reached(name)``
waits until that process is paused inside ``function``; ``race.release(name)``
lets it go on. The pause is installed in the racing process only (see racer.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from postgres import postgres_server  # noqa: E402,F401  (the throwaway server, a session fixture)
from race_seeding import Seeder  # noqa: E402


def _load_elastic_fixtures():
    """The search-server fixtures of tests/elastic (osmem-server on 127.0.0.1), shared here."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("elastic_fixtures", HERE.parent / "elastic" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_elastic = _load_elastic_fixtures()
search_server = _elastic.search_server
es_settings = _elastic.es_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, home, monkeypatch):
    """A migrated store of each kind; the process settings (and the racers') point at it."""
    from earwitness.kernel import settings
    from earwitness.kernel.store import Store
    url = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        url = server.create_database()
        monkeypatch.setenv("EARWITNESS__STORE_URL", url)
    settings.configure(home)
    store = Store(settings.get().store_url)
    yield store
    store.dispose()
    if url:
        from earwitness.kernel.store import db as db_module
        cached = db_module._stores.pop(url, None)
        if cached is not None:
            cached.dispose()
        server.drop_database(url)


class Race:
    def __init__(self, home: Path, race_dir: Path, extra_env: dict[str, str]) -> None:
        self.home, self.dir = home, race_dir
        self.env = dict(os.environ, EARWITNESS_HOME=str(home), RACE_DIR=str(race_dir),
                        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), str(HERE.parent / "elastic"),
                                                    os.environ.get("PYTHONPATH", "")]),
                        **extra_env)
        self.procs: list[subprocess.Popen] = []

    def start(self, action: str, *args: str, pause: str | None = None, mark: str | None = None,
              name: str = "racer") -> subprocess.Popen:
        cmd = [sys.executable, str(HERE / "racer.py"), action, *args, "--name", name]
        if pause:
            cmd += ["--pause", pause]
        if mark:
            cmd += ["--mark", mark]
        proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.procs.append(proc)
        return proc

    def reached(self, name: str, proc: subprocess.Popen, timeout_s: float = 90) -> None:
        end = time.monotonic() + timeout_s
        while not (self.dir / f"{name}.reached").exists():
            if proc.poll() is not None:
                raise AssertionError(f"{name} ended before its pause: {proc.stdout.read()} {proc.stderr.read()[-3000:]}")
            if time.monotonic() > end:
                raise AssertionError(f"{name} never reached its pause")
            time.sleep(0.02)

    def entered(self, name: str, proc: subprocess.Popen, settle_s: float = 2.0, timeout_s: float = 90) -> None:
        """Wait until ``name`` has entered its marked function, then ``settle_s`` more: by then it has
        either finished its step (a writer that does not wait) or is waiting for the other (one that does)."""
        end = time.monotonic() + timeout_s
        while not (self.dir / f"{name}.entered").exists():
            if proc.poll() is not None:
                break
            if time.monotonic() > end:
                raise AssertionError(f"{name} never entered its marked function")
            time.sleep(0.02)
        time.sleep(settle_s)

    def release(self, name: str) -> None:
        (self.dir / f"{name}.go").touch()

    @staticmethod
    def result(proc: subprocess.Popen, timeout_s: float = 120) -> tuple[int, dict]:
        out, err = proc.communicate(timeout=timeout_s)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert lines, f"no result from racer (rc {proc.returncode}): {out}\n{err[-3000:]}"
        return proc.returncode, json.loads(lines[-1])

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def race(home, tmp_path, db):
    extra = {k: v for k, v in os.environ.items() if k.startswith("EARWITNESS__")}
    r = Race(home, tmp_path / "race", extra)
    r.dir.mkdir()
    yield r
    r.close()


@pytest.fixture
def seed(home, db):
    return Seeder(home, db)
