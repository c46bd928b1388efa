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

Each package declares its section's types once, as a pydantic model in its own
config module, and registers it (:func:`register_section`); the defaults live in
the YAML under ``config/``, never in code. Loading validates every registered
section: an unknown key, a misspelt section or a wrong type is refused with the
file (or variable) it came from, the key, what was expected and what was given.
This module knows no package's keys beyond the core ones: ``home``, ``store_url``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = next((p for p in (Path(__file__).resolve().parents[1] / "config", PROJECT_ROOT / "config") if p.is_dir()), PROJECT_ROOT / "config")  # wheel: earwitness/config
CORE_FILE = "earwitness.yaml"
ENV_PREFIX = "EARWITNESS__"


class SettingsError(Exception):
    """A configuration file or override is malformed."""


class Section(BaseModel):
    """Base of every section's model: frozen, strict about unknown keys, no defaults in code."""

    model_config = ConfigDict(extra="forbid", frozen=True)


CORE_KEYS = frozenset({"home", "store_url", "local_timezone"})
_sections: dict[str, type[BaseModel]] = {}


def register_section(name: str, model: type[BaseModel]) -> None:
    """Declare the types of section ``name``; the process's settings are checked against it at once."""
    _sections[name] = model
    if _current is not None and name in _current.raw:
        _validate_section(name, model, thaw(_current.raw[name]), _current.origins)


def _origin(origins: Mapping[str, str], path: tuple) -> str:
    """The source (file or variable) of the value at ``path``, or of its nearest parent."""
    for n in range(len(path), 0, -1):
        key = ".".join(map(str, path[:n]))
        if key in origins:
            return origins[key]
    return "configuration"


def _validate_section(name: str, model: type[BaseModel], value: Any, origins: Mapping[str, str]) -> dict:
    try:
        return model.model_validate(value).model_dump()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = (name, *err["loc"])
            key = ".".join(map(str, path))
            if err["type"] == "extra_forbidden":
                known = ", ".join(sorted(_fields_at(model, err["loc"][:-1]))) or "none"
                lines.append(f"{_origin(origins, path)}: unknown key {key!r} (known here: {known})")
            elif err["type"] == "missing":
                lines.append(f"{_origin(origins, path[:-1])}: missing key {key!r}")
            else:
                lines.append(f"{_origin(origins, path)}: {key}: {err['msg'].lower()}, got {err['input']!r}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the (nested) model at ``loc``, for an unknown key's message."""
    for part in loc:
        field = model.model_fields.get(str(part)) if isinstance(model, type) else None
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


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


def merge(base: Mapping, over: Mapping, origins: dict[str, str] | None = None, source: str = "",
          prefix: str = "") -> dict:
    """``over`` merged into ``base`` (mappings merge, anything else replaces); records each leaf's source."""
    out = dict(base)
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(dict(out[key]), value, origins, source, dotted + ".")
        else:
            out[key] = value
            if origins is not None:
                for stale in [k for k in origins if k.startswith(dotted + ".")]:
                    del origins[stale]
                _record_origins(origins, value, source, dotted)
    return out


def _record_origins(origins: dict[str, str], value: Any, source: str, dotted: str) -> None:
    origins[dotted] = source
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _record_origins(origins, sub, source, f"{dotted}.{key}")


def read_yaml(path: Path) -> dict:
    """A YAML file that must hold a mapping; :class:`SettingsError` names the file otherwise."""
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
    origins: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def local_zone(self) -> ZoneInfo:
        """The team's time zone (``local_timezone``), for times shown beside UTC."""
        return ZoneInfo(str(self.raw.get("local_timezone") or "UTC"))

    def origin(self, dotted_key: str) -> str:
        """The file or environment variable the value of ``dotted_key`` came from."""
        return _origin(self.origins, tuple(dotted_key.split(".")))

    def section(self, name: str) -> Mapping[str, Any]:
        """The mapping for one package's section (empty if absent); validated when its model is registered."""
        value = self.raw.get(name, MappingProxyType({}))
        if not isinstance(value, Mapping):
            raise SettingsError(f"section {name!r} must be a mapping, got {type(value).__name__}")
        return value

    def path(self, *parts: str | os.PathLike) -> Path:
        """A path inside the data home (absolute paths are returned as they are)."""
        return self.home.joinpath(*parts)


def load(home: str | os.PathLike | None = None, *, environ: Mapping[str, str] | None = None,
         config_dir: Path = CONFIG_DIR) -> Settings:
    """Build settings from the config folder, a user file and the environment, and validate them."""
    environ = os.environ if environ is None else environ
    merged: dict = {}
    origins: dict[str, str] = {}
    shipped: set[str] = set()
    if not config_dir.is_dir():   # an install without its defaults must not run on none at all
        raise SettingsError(f"no configuration folder at {config_dir}: the installation is incomplete "
                            "(a wheel ships it as earwitness/config; a checkout has config/)")
    core = config_dir / CORE_FILE
    if core.exists():
        merged = merge(merged, read_yaml(core), origins, str(core))
    for path in sorted(config_dir.glob("*.yaml")):
        if path.name != CORE_FILE:
            shipped.add(path.stem)
            merged = merge(merged, {path.stem: read_yaml(path)}, origins, str(path))
    home_path = Path(home or environ.get("EARWITNESS_HOME") or merged.get("home") or "./var").expanduser()
    user_file = environ.get("EARWITNESS_CONFIG") or str(home_path / "earwitness.yaml")
    if Path(user_file).is_file():
        merged = merge(merged, read_yaml(Path(user_file)), origins, user_file)
    for name, value in _env_overrides(environ).items():
        merged = merge(merged, {name: value}, origins, "environment (EARWITNESS__...)")
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX):
            dotted = ".".join(p.lower() for p in name[len(ENV_PREFIX):].split("__") if p)
            origins[dotted] = f"environment variable {name}"
    unknown = sorted(k for k in merged if k not in CORE_KEYS and k not in shipped and k not in _sections)
    if unknown:
        known = ", ".join(sorted(CORE_KEYS | shipped | set(_sections)))
        raise SettingsError("invalid settings:\n  " + "\n  ".join(
            f"{_origin(origins, (k,))}: unknown section or key {k!r} (known: {known})" for k in unknown))
    for name, model in _sections.items():
        if name in merged:
            merged[name] = _validate_section(name, model, merged[name], origins)
    try:
        ZoneInfo(str(merged.get("local_timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{_origin(origins, ('local_timezone',))}: local_timezone: not a time zone name "
                            f"(IANA, e.g. Asia/Shanghai), got {merged.get('local_timezone')!r}") from None
    home_path = home_path.resolve()
    store_url = str(merged.get("store_url") or "sqlite:///{home}/earwitness.db").format(home=home_path)
    merged["home"] = str(home_path)
    merged["store_url"] = store_url
    return Settings(home=home_path, store_url=store_url, raw=_freeze(merged), origins=MappingProxyType(origins))


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
