"""requirements.lock pins every declared dependency at the version installed here, and nothing
declared goes unused."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]


def test_every_declared_dependency_is_locked_at_the_installed_version():
    pins = locked()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])
    stale = {n: (v, metadata.version(n)) for n, v in pins.items() if metadata.version(n) != v}
    assert not stale, f"installed versions differ from the lock (refresh it: README, 'The lock'): {stale}"


def test_librosa_is_gone_and_every_runtime_dependency_is_imported():
    names = {canonicalize_name(r.name) for r in declared()}
    assert "librosa" not in names
    modules = {"pyyaml": "yaml", "python-docx": "docx", "pillow": "PIL", "yt-dlp": "yt_dlp",
               "scrapy-playwright": "scrapy_playwright", "chinesecalendar": "chinese_calendar",
               "psycopg": None}   # psycopg: loaded by SQLAlchemy's URL
    sources = "\n".join(p.read_text(encoding="utf-8") for d in ("earwitness", "matchers", "crawler", "notices",
                                                               "fixtures", "webapp")
                        for p in (ROOT / d).rglob("*.py")) + (ROOT / "scheduler.py").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for raw in project["dependencies"]:
        name = canonicalize_name(Requirement(raw).name)
        module = modules.get(name, name.replace("-", "_"))
        if module is None:
            continue
        assert re.search(rf"^\s*(import|from) {re.escape(module)}\b", sources, re.M), f"{name} is never imported"
