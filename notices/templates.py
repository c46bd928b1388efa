"""The letter template library legal owns: one template per jurisdiction and language, fixed statements.

``config/templates/<JURISDICTION>-<lang>.yaml`` is a letter: its ``jurisdiction``,
``lang``, ``version``, ``title`` and ``sections``. A section names the ``element``
it satisfies (checked by :mod:`notices.jurisdictions` on the rendered letter) and
holds any of: ``text`` (Jinja2), ``fields`` (labelled values, each a Jinja2
expression, so an empty value is seen as empty), ``table`` (works | items |
detections | titles | identity | hashes) with its ``columns``, or ``statement``: the id of a statutory statement
in ``statements.yaml``. Statements are fixed texts, versioned, with their SHA-256
recorded beside them; the letter carries the text exactly, and a text that no
longer matches its hash refuses to load. A template cannot write its own text
into a statement section.

Rendering is strict: an unknown placeholder (``{{ adress_zh }}``) is an error that
names the template, the section and the placeholder, never a blank line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from earwitness.kernel import settings
from notices import config
from notices.exceptions import TemplateError

STATEMENTS_FILE = "statements.yaml"
TABLES = ("works", "items", "detections", "titles", "identity", "hashes")
SECTION_KEYS = {"element", "heading", "text", "fields", "table", "columns", "statement", "when"}

_env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Statement:
    id: str
    version: int
    law: str
    lang: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Template:
    id: str              # "CN-zh"
    jurisdiction: str
    lang: str
    version: int
    title: str
    sections: tuple[dict, ...]
    sha256: str          # of the template file as read


def folder() -> Path:
    configured = config.get("template_dir")
    return settings.get().path(configured) if configured else settings.CONFIG_DIR / "templates"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"no template file {path}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc


def statements(where: Path | None = None) -> dict[str, Statement]:
    """The statement library, each text checked against its recorded SHA-256."""
    path = (where or folder()) / STATEMENTS_FILE
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: expected a mapping of statement ids")
    out = {}
    for sid, raw in data.items():
        try:
            st = Statement(id=sid, version=int(raw["version"]), law=str(raw["law"]), lang=str(raw["lang"]),
                           text=str(raw["text"]).strip(), sha256=str(raw["sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateError(f"{path}: statement {sid!r} needs version, law, lang, text, sha256") from exc
        if text_sha256(st.text) != st.sha256:
            raise TemplateError(f"{path}: statement {sid!r} v{st.version} does not match its recorded "
                                f"SHA-256 (text changed without a new version and hash; "
                                f"the text hashes to {text_sha256(st.text)})")
        out[sid] = st
    return out


def template_path(jurisdiction: str, lang: str) -> Path:
    return folder() / f"{jurisdiction}-{lang}.yaml"


def available() -> list[tuple[str, str]]:
    """(jurisdiction, lang) of every template in the library."""
    out = []
    for p in sorted(folder().glob("*-*.yaml")):
        j, _, lang = p.stem.partition("-")
        out.append((j, lang))
    return out


def load(jurisdiction: str, lang: str) -> Template:
    """The template for ``jurisdiction`` in ``lang``, checked for shape (not yet rendered)."""
    path = template_path(jurisdiction, lang)
    if not path.is_file():
        have = ", ".join(f"{j}/{lang_}" for j, lang_ in available()) or "none"
        raise TemplateError(f"no {lang} letter template for jurisdiction {jurisdiction} ({path}); "
                            f"templates: {have}")
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise TemplateError(f"{path}: expected a mapping with a `sections` list")
    if (data.get("jurisdiction"), data.get("lang")) != (jurisdiction, lang):
        raise TemplateError(f"{path}: declares jurisdiction {data.get('jurisdiction')!r} and lang "
                            f"{data.get('lang')!r}, its name says {jurisdiction} and {lang}")
    for n, sec in enumerate(data["sections"], start=1):
        where = f"{path.name} section {n} ({sec.get('element', '?')})"
        unknown = set(sec) - SECTION_KEYS
        if unknown:
            raise TemplateError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        if not sec.get("element"):
            raise TemplateError(f"{where}: names no element")
        if sec.get("statement") and (sec.get("text") or sec.get("fields")):
            raise TemplateError(f"{where}: a statement section carries the fixed statement only, "
                                "not text of its own")
        if sec.get("table") and sec["table"] not in TABLES:
            raise TemplateError(f"{where}: unknown table {sec['table']!r}; one of {', '.join(TABLES)}")
    return Template(id=path.stem, jurisdiction=jurisdiction, lang=lang, version=int(data.get("version", 1)),
                    title=str(data.get("title", "")), sections=tuple(data["sections"]),
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def _render(source: str, ctx: dict, where: str) -> str:
    try:
        return _env.from_string(source).render(ctx).strip()
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{where}: unknown placeholder: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from exc


def render(tpl: Template, ctx: dict, *, has_agent: bool) -> list[dict]:
    """The template's sections rendered with ``ctx``: the letter's structure, statements inserted whole."""
    library = statements()
    out = []
    for sec in tpl.sections:
        if sec.get("when") == "agent" and not has_agent:
            continue
        where = f"template {tpl.id} section {sec['element']!r}"
        item: dict[str, Any] = {"element": sec["element"], "heading": _render(str(sec.get("heading", "")), ctx, where),
                                "paragraphs": [], "fields": [], "table": sec.get("table"),
                                "columns": [str(c) for c in sec.get("columns") or []], "statement": None}
        if sec.get("statement"):
            st = library.get(sec["statement"])
            if st is None:
                raise TemplateError(f"{where}: no statement {sec['statement']!r} in {STATEMENTS_FILE}")
            if st.lang != tpl.lang:
                raise TemplateError(f"{where}: statement {st.id} is in {st.lang}, the letter in {tpl.lang}")
            item["paragraphs"] = [st.text]
            item["statement"] = {"id": st.id, "version": st.version, "sha256": st.sha256, "law": st.law}
        else:
            text = _render(str(sec.get("text", "")), ctx, where)
            item["paragraphs"] = [line.strip() for line in text.splitlines() if line.strip()]
            for f in sec.get("fields") or []:
                item["fields"].append({"name": str(f["name"]), "label": str(f.get("label", "")),
                                       "value": _render(str(f.get("value", "")), ctx,
                                                        f"{where} field {f['name']!r}")})
        out.append(item)
    return out
