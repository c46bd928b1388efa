"""The ``notices`` settings section, read once per call (tests switch homes)."""

from __future__ import annotations

from typing import Any, Mapping

from earwitness.kernel import settings


def section() -> Mapping[str, Any]:
    return settings.get().section("notices")


def get(key: str, default: Any = None) -> Any:
    return section().get(key, default)


def per_platform(key: str, platform: str, default: Any = None) -> Any:
    """A per-platform mapping's value for ``platform``, else its ``default`` entry."""
    table = section().get(key) or {}
    return table.get(platform, table.get("default", default))


def per_platform_nested(key: str, sub: str, platform: str, default: Any = None) -> Any:
    """Like :func:`per_platform` for a mapping inside a section key (``dispute.default_basis``)."""
    table = (section().get(key) or {}).get(sub) or {}
    return table.get(platform, table.get("default", default))
