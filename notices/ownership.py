"""What the sender can show: title to each work it claims, and who it is.

A letter claims works for the configured rights holder. It may claim a work only
when the catalog does not name another owner (``Work.owner`` is one of the holder's
names or ``notices.holder_owns``) and the holder has evidence of title for it
(``notices.title_evidence``: registration certificates, licence agreements, chain of
title, per work id or per catalog owner). The holder's identity documents
(``notices.identity_documents``) go with every letter. Each document is a file
whose SHA-256 is recorded in the configuration and checked when a letter is drafted
and when it is exported: a changed document is refused, not annexed.
"""

from __future__ import annotations

from pathlib import Path

from earwitness.kernel import settings
from earwitness.kernel.digests import file_sha256
from earwitness.kernel.store.models import Work
from notices import config, templates
from notices.exceptions import NoticesError, TitleNotShown


def resolve(file: str) -> Path:
    """A document's path: absolute, else in the data home, else beside the templates."""
    path = Path(file)
    if path.is_absolute():
        return path
    in_home = settings.get().path(file)
    if in_home.exists():
        return in_home
    return templates.folder() / file


def document(entry: dict, what: str) -> dict:
    """One configured document, checked: its file exists and hashes to the recorded SHA-256."""
    missing = [k for k in ("kind", "title", "file", "sha256") if not entry.get(k)]
    if missing:
        raise NoticesError(f"{what}: a document needs {', '.join(missing)}: {entry}")
    path = resolve(entry["file"])
    if not path.is_file():
        raise NoticesError(f"{what}: document {entry['title']!r} is missing: {path}")
    sha = file_sha256(path)
    if sha != entry["sha256"]:
        raise NoticesError(f"{what}: document {entry['title']!r} ({path}) changed: SHA-256 {sha}, "
                           f"recorded {entry['sha256']}")
    return {"kind": entry["kind"], "title": entry["title"], "file": path.name, "source": entry["file"],
            "sha256": sha}


def holder_names() -> set[str]:
    rh = config.get("rights_holder") or {}
    return {n for n in (rh.get("name"), rh.get("name_zh"), *(config.get("holder_owns") or [])) if n}


def identity() -> list[dict]:
    return [document(e, "sender identity") for e in config.get("identity_documents") or []]


def title_documents(work: Work) -> list[dict]:
    conf = config.get("title_evidence") or {}
    entries = list((conf.get("works") or {}).get(work.id) or [])
    if work.owner:
        entries += list((conf.get("owners") or {}).get(work.owner) or [])
    return [document(e, f"title to work {work.id}") for e in entries]


def check_claimable(works: list[Work]) -> None:
    """Refuse (naming each work and why) when the holder cannot show title to every work."""
    names = holder_names()
    problems = []
    for w in works:
        if w.owner and w.owner not in names:
            problems.append(f"work {w.id} ({w.title or 'untitled'}) is owned by {w.owner!r} in the catalog, "
                            f"not by the rights holder ({', '.join(sorted(names))})")
        elif not title_documents(w):
            problems.append(f"work {w.id} ({w.title or 'untitled'}): no evidence of title on file "
                            "(notices.title_evidence)")
    if problems:
        raise TitleNotShown(problems)
