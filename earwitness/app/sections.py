"""Every settings section's types, registered before the settings are loaded.

The stages declare their own sections (``crawler.config``, ``notices.config``,
``webapp.config``, ``fixtures.config``); the application's own sections are here:
``matcher`` (the query settings, typed by :class:`matchers.config.QueryConfig`,
which knows nothing of this project), ``fingerprint`` (the key family), ``scheduler``, ``elasticsearch`` and ``workers``.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from pydantic import create_model

import crawler.config  # noqa: F401  (registers "crawler")
import fixtures.config  # noqa: F401  (registers "fixtures")
import notices.config  # noqa: F401  (registers "notices")
import webapp.config  # noqa: F401  (registers "webapp")
from earwitness.kernel import settings
from matchers.config import QueryConfig


def _matcher_model() -> type[settings.Section]:
    """The ``matcher`` section: any field of QueryConfig, with its type; unset fields keep the matcher's own."""
    hints = typing.get_type_hints(QueryConfig)
    fields = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(QueryConfig)}
    return create_model("MatcherSettings", __base__=settings.Section, **fields)


MatcherSettings = _matcher_model()


class FingerprintSettings(settings.Section):
    """What the index is built from: the key family and how many tuples an anchor makes
    (fields of :class:`matchers.config.FingerprintConfig`; the rest keep the matcher's own)."""

    points: typing.Literal[3, 4]
    neighbours: int
    triplets_per_anchor: int


class SchedulerSettings(settings.Section):
    """The daemon: worker count, misfire policy, the jobs (validated by :func:`earwitness.app.jobs.load_jobs`)."""

    workers: int
    misfire_grace_s: int
    coalesce: bool
    timezone: str
    start_new_jobs_now: bool
    rerun_interrupted: bool
    jobs: dict[str, Any]
    sites: dict[str, Any]


class ElasticsearchSettings(settings.Section):
    """The Elasticsearch mirror: connection, index names, outbox drain."""

    url: str | None
    username: str | None
    password: str | None
    api_key: str | None
    ca_certs: str | None
    verify_certs: bool
    request_timeout_s: float
    node_class: str | None
    index_prefix: str
    shards: int
    replicas: int
    batch_size: int
    retries: int
    backoff_s: float


class WorkersSettings(settings.Section):
    """Matching as a worker pool (``earwitness workers match``): Dramatiq over Redis, leases in the store."""

    match_mode: typing.Literal["inline", "queue"]
    broker_url: str
    queue: str
    match_lease_s: float
    held_retry_s: float
    max_retries: int
    heartbeat_timeout_s: float
    maintenance_per_million: int


settings.register_section("matcher", MatcherSettings)
settings.register_section("fingerprint", FingerprintSettings)
settings.register_section("workers", WorkersSettings)
settings.register_section("scheduler", SchedulerSettings)
settings.register_section("elasticsearch", ElasticsearchSettings)
