"""Shared test fixtures: an isolated data home with its settings and a migrated store.

Area-specific fixtures live in ``tests/<area>/conftest.py``.
"""

import os

import pytest

from tests.postgres import postgres_server  # noqa: F401  (the session's throwaway PostgreSQL)

# Which SQL engine the ``home``/``store`` fixtures use: ``sqlite`` (default) or ``postgres``
# (a fresh database on the session's throwaway server; scripts/test.sh runs a second pass so).
TEST_STORE = os.environ.get("EARWITNESS_TEST_STORE", "sqlite")
if TEST_STORE not in ("sqlite", "postgres"):
    raise ValueError(f"EARWITNESS_TEST_STORE must be 'sqlite' or 'postgres', got {TEST_STORE!r}")


@pytest.fixture
def pg_url(postgres_server):
    """The URL of a fresh, migrated PostgreSQL database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def pg_store(pg_url):
    """A :class:`Store` on a fresh PostgreSQL database (whatever ``EARWITNESS_TEST_STORE`` says)."""
    from earwitness.kernel.store import Store
    st = Store(pg_url)
    yield st
    st.dispose()


@pytest.fixture
def home(tmp_path, monkeypatch, request):
    """A fresh data home; the process settings point at it for the test's duration.

    With ``EARWITNESS_TEST_STORE=postgres`` the home's store is a fresh PostgreSQL
    database (``EARWITNESS__STORE_URL``, so child processes inherit it too).
    """
    from earwitness.kernel import settings
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("EARWITNESS_HOME", str(path))
    if TEST_STORE == "postgres":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("EARWITNESS__STORE_URL", url)
    settings.configure(path)
    yield path
    settings.configure(None)


@pytest.fixture
def store(home):
    """A migrated store in the test's data home (SQLite, or PostgreSQL: see ``TEST_STORE``)."""
    from earwitness.kernel import settings
    from earwitness.kernel.store import Store
    st = Store(settings.get().store_url)
    yield st
    st.dispose()
