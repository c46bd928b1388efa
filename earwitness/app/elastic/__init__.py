"""The Elasticsearch mirror: index templates, outbox sync, reindex, Kibana objects.

The SQL store is the system of record. Every change to a record class with
``__outbox__`` leaves an outbox row in the same transaction
(:mod:`earwitness.kernel.store.outbox`); :func:`earwitness.app.elastic.sync.sync` drains
those rows into versioned indices behind aliases. Settings: the
``elasticsearch`` section (``config/elasticsearch.yaml``); off while ``url`` is
unset.
"""


class ElasticError(Exception):
    """Root of this package's errors."""


class NotConfigured(ElasticError):
    """No Elasticsearch URL is configured: the mirror is off (not a failure)."""


class ElasticUnavailable(ElasticError):
    """The cluster could not be reached after the configured retries (expected; retried next run)."""


__all__ = ["ElasticError", "NotConfigured", "ElasticUnavailable"]
