"""A real search server per test: osmem-server on 127.0.0.1, or the cluster at ``ES_URL``.

With ``ES_URL`` set, tests run against that cluster under a unique index prefix
and delete what they created; tests that must stop the server are skipped there.
``ES_NODE_CLASS`` (a dotted path) picks the transport node for such a server.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
NODE_CLASS = "plainjson_node.PlainJsonNode"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SearchServer:
    """A search server the tests can stop and start again on the same address."""

    url: str
    real: bool                      # an external cluster from ES_URL
    addr: str | None = None
    proc: object | None = None
    prefix: str = field(default_factory=lambda: f"ewt{uuid.uuid4().hex[:8]}")

    def cfg(self, **over) -> dict:
        cfg = {"url": self.url, "index_prefix": self.prefix, "retries": 1, "backoff_s": 0.05,
               "request_timeout_s": 5, "batch_size": 50,
               "node_class": os.environ.get("ES_NODE_CLASS") if self.real else NODE_CLASS}
        cfg.update(over)
        return cfg

    def env(self) -> dict[str, str]:
        """The same configuration as environment overrides (for child processes)."""
        out = {f"EARWITNESS__ELASTICSEARCH__{k.upper()}": str(v) for k, v in self.cfg().items()
               if v is not None}
        out["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
        return out

    def client(self):
        from earwitness.app.elastic.client import make_client
        return make_client(self.cfg())

    def stop(self) -> None:
        assert not self.real, "cannot stop an external cluster"
        self.proc.close(grace=0)

    def start(self) -> None:
        from osmem_server import OsmemServer
        self.proc = OsmemServer.start(japanese=False, addr=self.addr)


@pytest.fixture
def search_server(monkeypatch):
    url = os.environ.get("ES_URL")
    if url:
        server = SearchServer(url=url, real=True)
        yield server
        es = server.client().options(ignore_status=404)
        # by name: clusters refuse wildcard deletes (action.destructive_requires_name)
        for name in es.indices.get(index=f"{server.prefix}-*", allow_no_indices=True).body or {}:
            es.indices.delete(index=name)
        templates = es.indices.get_index_template(name=f"{server.prefix}-*").body or {}
        for t in templates.get("index_templates", []):
            es.indices.delete_index_template(name=t["name"])
        return
    addr = f"127.0.0.1:{free_port()}"
    server = SearchServer(url=f"http://{addr}", real=False, addr=addr)
    server.start()
    yield server
    if server.proc is not None:
        server.proc.close(grace=0)


@pytest.fixture
def es_settings(home, search_server, monkeypatch):
    """Process settings pointing the mirror at the test server."""
    from earwitness.kernel import settings
    for key, value in search_server.env().items():
        monkeypatch.setenv(key, value)
    settings.configure(home)
    return search_server
