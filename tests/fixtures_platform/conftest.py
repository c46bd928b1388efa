"""A built fixture platform shared by the session, and a running server per test that needs one."""

import json
import urllib.error
import urllib.request

import pytest


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


class Http:
    """Tiny client: status, headers and body without raising on 4xx/5xx."""

    def __init__(self, base):
        self.base = base

    def get(self, path, headers=None, method="GET"):
        req = urllib.request.Request(self.base + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def json(self, path):
        status, _, body = self.get(path)
        return status, json.loads(body)


@pytest.fixture
def http(platform):
    return Http(platform.url)
