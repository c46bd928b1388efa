"""Typed views of the ``crawler`` settings section and of the site YAML files.

A site is ``config/sites/<name>.yaml`` or ``<home>/sites/<name>.yaml`` (the user's,
which wins), with ``crawler.sites.<name>.*`` in the settings merged on top (so
``EARWITNESS__CRAWLER__SITES__FIXTURE__BASE_URL`` moves the fixture platform).
Real platforms without a YAML (bilibili, youtube, ...) are adapters in
``crawler/spiders/``; they read the same per-site keys (proxy, cookies_file,
user_agent, obey_robots) from ``crawler.sites.<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


from crawler.errors import SiteConfigError
from earwitness.kernel import settings as ew_settings

SITES_DIR = ew_settings.CONFIG_DIR / "sites"




class _Autothrottle(ew_settings.Section):
    enabled: bool
    start_delay_s: float
    max_delay_s: float
    target_concurrency: float


class _Retry(ew_settings.Section):
    times: int
    http_codes: list[int]
    backoff_base_s: float
    max_backoff_s: float


class _Chromium(ew_settings.Section):
    executable_path: str
    args: list[str]
    navigation_timeout_ms: int
    max_pages: int


class _Media(ew_settings.Section):
    format: str
    sample_rate: int
    max_duration_s: float
    max_filesize_mb: float
    fetch_workers: int
    socket_timeout_s: float
    item_time_limit_s: float
    item_time_limit_s: float


class _Evidence(ew_settings.Section):
    screenshot: bool
    html: bool


class _Queries(ew_settings.Section):
    from_catalog: bool
    keywords: list[str]
    max_queries: int
    coverage_days: float


class _LiveWatch(ew_settings.Section):
    rooms: list[str]
    hop_s: float
    buffer_min: float
    reconnect_s: float
    max_rooms: int


class _LiveSearch(ew_settings.Section):
    sites: list[str]
    max_queries: int
    per_query: int
    music_categories: list[str]
    rotate_min: float


class _Live(ew_settings.Section):
    window_s: float
    period_min: float
    evidence_s: float
    context_before_s: float
    min_window_s: float
    keep_window_audio: bool
    rooms: list[str]
    sites: list[str]
    max_rooms: int
    stall_s: float
    grace_s: float
    max_stream_mb: float
    max_playlist_kb: float
    watch: _LiveWatch
    search: _LiveSearch


class _Pause(ew_settings.Section):
    first_min: float
    max_hours: float


class CrawlerSettings(ew_settings.Section):
    """The ``crawler`` section (``config/crawler.yaml``): types here, values there."""

    user_agent: str
    obey_robots: bool
    proxy: str | None
    cookies_file: str | None
    concurrency: int
    per_domain_concurrency: int
    download_delay_s: float
    requests_per_second: float
    autothrottle: _Autothrottle
    retry: _Retry
    crawl_timeout_s: float
    max_attempts: int
    pause: _Pause
    default_limit: int
    chromium: _Chromium
    media: _Media
    evidence: _Evidence
    queries: _Queries
    licensed: list[dict[str, str]]
    live: _Live
    sites: dict[str, dict[str, Any]]   # per-site overrides (crawler.sites.<name>.*): free-form


ew_settings.register_section("crawler", CrawlerSettings)


def section() -> dict:
    """The ``crawler`` settings section as a plain dict."""
    return ew_settings.thaw(ew_settings.get().section("crawler"))


@dataclass(frozen=True)
class SiteConfig:
    """One configured site; ``raw`` keeps every key of its YAML for the spider."""

    name: str
    platform: str
    raw: dict = field(repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    @property
    def base_url(self) -> str:
        return str(self.raw.get("base_url", "")).rstrip("/")

    def url(self, template: str, **values: str) -> str:
        """Fill ``{base_url}``, ``{query}``, ``{id}`` in a URL template."""
        from urllib.parse import quote
        vals = {"base_url": self.base_url}
        vals.update({k: (quote(v, safe="") if k == "query" else v) for k, v in values.items()})
        try:
            return template.format(**vals)
        except KeyError as exc:
            raise SiteConfigError(f"site {self.name!r}: URL template {template!r} uses unknown {exc}") from exc

    def option(self, key: str, default: Any = None) -> Any:
        """A per-site key, else the crawler-wide one (proxy, user_agent, obey_robots...)."""
        if key in self.raw and self.raw[key] is not None:
            return self.raw[key]
        return section().get(key, default)


def site_files() -> dict[str, Path]:
    """Site name -> its YAML file (the user's folder wins over the shipped one)."""
    found: dict[str, Path] = {}
    for folder in (SITES_DIR, ew_settings.get().path("sites")):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
    return found


def load_site(name: str) -> SiteConfig:
    """The configuration of site ``name`` (a YAML site or a built-in adapter)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name or ""):
        raise SiteConfigError(f"bad site name {name!r}")
    raw: dict = {}
    path = site_files().get(name)
    if path is not None:
        try:
            raw = ew_settings.read_yaml(path)
        except ew_settings.SettingsError as exc:
            raise SiteConfigError(str(exc)) from None
    overrides = section()["sites"].get(name, {})
    raw = ew_settings.merge(raw, overrides or {})
    raw.setdefault("name", name)
    if path is not None:
        raw.setdefault("kind", "configurable")
        for key in ("base_url", "video"):
            if not raw.get(key):
                raise SiteConfigError(f"site {name!r} ({path}): missing key {key!r}")
        if not (raw.get("search_url") or raw.get("start_urls") or raw.get("live") or raw.get("discovery")):
            raise SiteConfigError(f"site {name!r}: needs search_url, start_urls, discovery or live")
    return SiteConfig(name=name, platform=str(raw.get("platform") or name), raw=raw)


def licensed_accounts() -> set[tuple[str, str]]:
    """(platform, uploader id or name) pairs whose uploads are licensed."""
    out: set[tuple[str, str]] = set()
    for entry in section()["licensed"] or []:
        if not isinstance(entry, Mapping) or "platform" not in entry:
            raise SiteConfigError(f"crawler.licensed: each entry needs platform and uploader_id, got {entry!r}")
        who = entry.get("uploader_id") or entry.get("uploader")
        if who:
            out.add((str(entry["platform"]), str(who)))
    return out


def is_licensed(platform: str, uploader_id: str | None, uploader: str | None) -> bool:
    acc = licensed_accounts()
    return any((platform, str(x)) in acc for x in (uploader_id, uploader) if x)
