"""A built fixture platform shared by the session, and a running server per test that needs one."""

import pytest

from tests.fixtures_platform.client import Http


@pytest.fixture(scope="session")
def platform_root():
    """The platform built once (cached across sessions by its input digest)."""
    from fixtures.build import build, cache_root
    return build(cache_root())


@pytest.fixture
def platform(platform_root, home):
    """A running server on a free port; stopped (with its ffmpeg streams) after the test."""
    from fixtures.platform import serve
    server = serve(port=0, root=platform_root, build=False)
    yield server
    server.close()


@pytest.fixture
def http(platform):
    return Http(platform.url)
