"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` binaries, started here.

The cluster lives in a temporary directory, listens only on a unix socket inside
it (no TCP port, so parallel runs never collide) and is stopped and deleted when
the test session ends. PostgreSQL refuses to run as root, so when the tests run
as root the server runs as the ``postgres`` account the Debian package creates.

Each test gets a fresh database cloned from a migrated template (``CREATE
DATABASE ... TEMPLATE``), which costs milliseconds instead of a migration run.
Durability is switched off (``fsync=off``): the cluster is thrown away anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import types
from pathlib import Path

SUPERUSER = "earwitness"
TEMPLATE_DB = "earwitness_template"
BINDIR_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_ACCOUNT = "postgres"  # created by Debian's postgresql-common


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed (``scripts/setup.sh`` installs them)."""


def find_bindir() -> Path:
    """The newest installed server's bin directory (the one holding ``initdb`` and ``pg_ctl``)."""
    env = os.environ.get("EARWITNESS_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob(BINDIR_GLOB), key=_major_version)
    for candidate in reversed(candidates):
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and $EARWITNESS_PG_BINDIR); "
        "run scripts/setup.sh, which installs Debian's postgresql package")


def _major_version(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


class PostgresServer:
    """One private PostgreSQL cluster: ``start()``, ``create_database()``, ``stop()``."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="earwitness-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.port = 5432  # only names the socket file; nothing listens on TCP
        self._run_as = SERVER_ACCOUNT if os.geteuid() == 0 else None
        self._counter = 0
        self._lock = threading.Lock()
        self._template_ready = False

    # -- lifecycle ---------------------------------------------------------------------------

    def _server_cmd(self, *argv: str) -> list[str]:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        return ["runuser", "-u", self._run_as, "--", *cmd] if self._run_as else cmd

    def start(self) -> "PostgresServer":
        if self._run_as:
            account = pwd.getpwnam(self._run_as)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        os.chmod(self.root, 0o755)  # the client (maybe another account) must reach the socket
        subprocess.run(self._server_cmd("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"),
                       check=True, capture_output=True, text=True)
        options = (f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   "-c shared_buffers=32MB")
        proc = subprocess.run(self._server_cmd("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                                               "-o", options, "-w", "-t", "60", "start"),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {proc.stdout}{proc.stderr}\n{log}")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._server_cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                           capture_output=True, text=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ---------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``database`` on this server's socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def _admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def _ensure_template(self) -> None:
        """A database at the newest migration, cloned for every test database."""
        if self._template_ready:
            return
        from earwitness.kernel.store import Store
        self._admin(f"CREATE DATABASE {TEMPLATE_DB}")
        Store(self.url(TEMPLATE_DB)).dispose()
        self._template_ready = True

    def create_database(self, *, migrated: bool = True) -> str:
        """A fresh, empty database (migrated unless told otherwise); returns its URL."""
        with self._lock:
            self._counter += 1
            name = f"test_{os.getpid()}_{self._counter}"
            if migrated:
                self._ensure_template()
                self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
            else:
                self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test database, closing any connection a test left open."""
        name = url.split("@/", 1)[1].split("?", 1)[0]
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _shared() -> types.ModuleType:
    """Where the session's server is kept: one place even if this file is imported under two names
    (``tests.postgres`` from tests/conftest.py, ``postgres`` from a folder that puts tests/ on sys.path)."""
    return sys.modules.setdefault("_earwitness_test_postgres", types.ModuleType("_earwitness_test_postgres"))


def session_server() -> PostgresServer:
    """The test session's one server, started on first use (stopped by :func:`stop_session_server`)."""
    shared = _shared()
    if getattr(shared, "server", None) is None:
        shared.server = PostgresServer().start()
    return shared.server


def stop_session_server() -> None:
    shared = _shared()
    if getattr(shared, "server", None) is not None:
        shared.server.stop()
        shared.server = None


# -- pytest fixtures (registered by tests/conftest.py) -----------------------------------------

import pytest  # noqa: E402  (fixtures below; the server class above needs no pytest)


@pytest.fixture(scope="session")
def postgres_server():
    """The session's throwaway PostgreSQL server; fails the test clearly when it cannot start."""
    try:
        server = session_server()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    stop_session_server()
