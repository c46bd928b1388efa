"""Shared test fixtures: an isolated data home with its settings and a migrated store.

Area-specific fixtures live in ``tests/<area>/conftest.py``.
"""

import os
import tempfile

import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "earwitness-numba-cache"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data home; the process settings point at it for the test's duration."""
    from earwitness.kernel import settings
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("EARWITNESS_HOME", str(path))
    settings.configure(path)
    yield path
    settings.configure(None)


@pytest.fixture
def store(home):
    """A migrated SQLite store in the test's data home."""
    from earwitness.kernel import settings
    from earwitness.kernel.store import Store
    st = Store(settings.get().store_url)
    yield st
    st.dispose()
