"""One frozen settings object, loaded once from YAML with environment overrides.

Sources, later wins:

1. every ``config/*.yaml`` shipped with the project; a file's name is its
   section (``config/crawler.yaml`` -> ``settings.section("crawler")``), except
   ``config/earwitness.yaml`` which holds the core keys at top level;
2. a user file: ``$EARWITNESS_CONFIG`` or ``<home>/earwitness.yaml`` (same shape
   as the merged result: core keys at top level, sections as nested mappings);
3. environment variables ``EARWITNESS__SECTION__KEY=value`` (values parsed as
   YAML, so ``true``, ``3`` and ``[a, b]`` work);
4. ``EARWITNESS_HOME`` for the data home, and the ``--home`` option of the CLI.

Packages read their own section and type it themselves (Scrapy's way: a
component reads its own settings), so this module knows no package's keys
beyond the core ones: ``home``, ``store_url``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "config"
CORE_FILE = "earwitness.yaml"
ENV_PREFIX = "EARWITNESS__"


class SettingsError(Exception):
    """A configuration file or override is malformed."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A section (read-only mappings and tuples) as plain dicts and lists, for code that edits a copy."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def _merge(base: dict, over: Mapping) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping at top level")
    return data


def _env_overrides(environ: Mapping[str, str]) -> dict:
    out: dict = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


@dataclass(frozen=True)
class Settings:
    """The merged configuration; read-only.

    ``home`` is the data home (store, index, media, evidence); relative paths in
    the configuration are resolved against it via :meth:`path`.
    """

    home: Path
    store_url: str
    raw: Mapping[str, Any] = field(repr=False)

    def section(self, name: str) -> Mapping[str, Any]:
        """The mapping for one package's section (empty if absent)."""
        value = self.raw.get(name, MappingProxyType({}))
        if not isinstance(value, Mapping):
            raise SettingsError(f"section {name!r} must be a mapping, got {type(value).__name__}")
        return value

    def path(self, *parts: str | os.PathLike) -> Path:
        """A path inside the data home (absolute paths are returned as they are)."""
        return self.home.joinpath(*parts)


def load(home: str | os.PathLike | None = None, *, environ: Mapping[str, str] | None = None,
         config_dir: Path = CONFIG_DIR) -> Settings:
    """Build settings from the config folder, a user file and the environment."""
    environ = os.environ if environ is None else environ
    merged: dict = {}
    if config_dir.is_dir():
        core = config_dir / CORE_FILE
        if core.exists():
            merged = _merge(merged, _read_yaml(core))
        for path in sorted(config_dir.glob("*.yaml")):
            if path.name != CORE_FILE:
                merged = _merge(merged, {path.stem: _read_yaml(path)})
    home_path = Path(home or environ.get("EARWITNESS_HOME") or merged.get("home") or "./var").expanduser()
    user_file = environ.get("EARWITNESS_CONFIG") or str(home_path / "earwitness.yaml")
    if Path(user_file).is_file():
        merged = _merge(merged, _read_yaml(Path(user_file)))
    merged = _merge(merged, _env_overrides(environ))
    home_path = home_path.resolve()
    store_url = str(merged.get("store_url") or "sqlite:///{home}/earwitness.db").format(home=home_path)
    merged["home"] = str(home_path)
    merged["store_url"] = store_url
    return Settings(home=home_path, store_url=store_url, raw=_freeze(merged))


_current: Settings | None = None
_lock = threading.Lock()


def configure(home: str | os.PathLike | None = None) -> Settings:
    """Load settings once for this process (the CLI calls this with ``--home``)."""
    global _current
    with _lock:
        _current = load(home)
        return _current


def get() -> Settings:
    """The process's settings, loading them on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = load()
        return _current
