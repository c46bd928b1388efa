"""Build the official Elasticsearch client from the ``elasticsearch`` settings section.

Settings read: ``url``, ``username``, ``password``, ``api_key``, ``ca_certs``,
``verify_certs``, ``request_timeout_s``, ``node_class`` (dotted path of an
``elastic_transport`` node class, passed as the client's ``node_class``).
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from earwitness.kernel import settings
from earwitness.app.elastic import ElasticError, NotConfigured


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
