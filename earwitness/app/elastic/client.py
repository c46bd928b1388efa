"""Build the official Elasticsearch client from the ``elasticsearch`` settings section.

Supported servers: Elasticsearch 9.x as it is, and Elasticsearch 8.x (8.0 and later)
with ``node_class: earwitness.app.elastic.client:Elasticsearch8Node``. The
installed client is the 9.x Python client, which asks for the 9 REST API
(``compatible-with=9`` in its media types); an 8.x server refuses that with
``media_type_header_exception``. The 8 node asks for ``compatible-with=8``, which
8.x servers answer natively and 9.x servers answer in compatibility mode. The
requests the mirror makes (index templates, aliases, bulk with external
versions, count, refresh) are the same in both versions.

Settings read: ``url``, ``username``, ``password``, ``api_key``, ``ca_certs``,
``verify_certs``, ``request_timeout_s``, ``node_class`` (dotted path of an
``elastic_transport`` node class, passed as the client's ``node_class``).
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from earwitness.app import sections as _sections  # noqa: F401  (the sections read here are typed)
from earwitness.kernel import settings
from earwitness.app.elastic import ElasticError, NotConfigured


from elastic_transport import Urllib3HttpNode


class Elasticsearch8Node(Urllib3HttpNode):
    """The transport node for an Elasticsearch 8.x cluster: REST API compatibility 8 in every request."""

    def perform_request(self, method, target, body=None, headers=None, **kwargs):
        if headers is not None:
            headers = headers.copy()
            for name in list(headers.keys()):
                if name.lower() in ("accept", "content-type") and "compatible-with=" in headers[name]:
                    headers[name] = headers[name].replace("compatible-with=9", "compatible-with=8")
        return super().perform_request(method, target, body=body, headers=headers, **kwargs)


def config() -> Mapping[str, Any]:
    """The ``elasticsearch`` section."""
    return settings.get().section("elasticsearch")


def _import(path: str) -> Any:
    module, _, attr = path.replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ElasticError(f"elasticsearch.node_class {path!r} cannot be imported: {exc}") from exc


def make_client(cfg: Mapping[str, Any] | None = None, **overrides: Any):
    """An ``Elasticsearch`` client, or :class:`NotConfigured` when no URL is set."""
    from elasticsearch import Elasticsearch

    cfg = dict(config() if cfg is None else cfg)
    url = cfg.get("url")
    if not url:
        raise NotConfigured("elasticsearch.url is not set (EARWITNESS__ELASTICSEARCH__URL)")
    kwargs: dict[str, Any] = {"request_timeout": float(cfg.get("request_timeout_s") or 30),
                              "max_retries": 0}  # the sync owns retries and back-off
    if cfg.get("api_key"):
        kwargs["api_key"] = cfg["api_key"]
    elif cfg.get("username"):
        kwargs["basic_auth"] = (cfg["username"], cfg.get("password") or "")
    if cfg.get("ca_certs"):
        kwargs["ca_certs"] = cfg["ca_certs"]
    if cfg.get("verify_certs") is False:
        kwargs["verify_certs"] = False
    if cfg.get("node_class"):
        node = cfg["node_class"]
        kwargs["node_class"] = _import(node) if isinstance(node, str) else node
    kwargs.update(overrides)
    return Elasticsearch(url if isinstance(url, (list, tuple)) else [url], **kwargs)
