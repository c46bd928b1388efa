"""Export a notice: the letter as PDF or DOCX, or a zip of letter + evidence bundles + manifest.

The zip carries the letter, the evidence bundles, and the annexed title and
identity documents (``annex/``), and the bundles' ledger entries with their
time-stamp tokens (``ledger/entries.jsonl``), so a recipient can re-verify it alone
(``earwitness evidence verify --bundle ZIP --trust-root ROOT.pem``, :func:`notices.ledger.verify_bundle`):
the clip's normalised audio and downloaded original, the stamped page picture and the page's WARC
are bundle files, each hashed into its ledger entry.
Its ``manifest.json`` lists the SHA-256 of every member and, per detection,
the ledger entry its bundle was committed to, so the recipient can check the
evidence against the hashes printed in the letter. Rendered files' hashes are
recorded on the notice.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from earwitness import __version__
from earwitness.kernel import settings
from earwitness.kernel.store.models import utcnow
from notices import ledger, ownership, render_docx, render_pdf
from notices.evidence import OBJECTS
from notices.exceptions import NoticesError
from notices.letters import ensure_complete, get_notice

FORMATS = ("pdf", "docx", "zip")
LEDGER_MEMBER = "ledger/entries.jsonl"    # the bundles' ledger entries, time-stamp tokens included


def _name(notice, ext: str) -> str:
    return f"notice-{notice.platform}-{notice.lang}-{notice.id}.{ext}"


def export(session: Session, notice_id: str, fmt: str, out_dir: Path) -> list[Path]:
    """Write the notice in ``fmt`` (pdf | docx | zip) into ``out_dir``; the paths written."""
    if fmt not in FORMATS:
        raise NoticesError(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    notice = get_notice(session, notice_id)
    ensure_complete(notice.content)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        paths = [render_pdf.letter(notice.content, out_dir / _name(notice, "pdf"))]
    elif fmt == "docx":
        paths = [render_docx.letter(notice.content, out_dir / _name(notice, "docx"))]
    else:
        paths = [_zip(notice, out_dir)]
    files = dict(notice.files or {})
    for p in paths:
        files[p.name] = ledger.file_sha256(p)
    notice.files = files
    return paths


def _manifest_path(home: Path, sha: str) -> Path:
    """A bundle's manifest, stored under its own hash (the one the letter prints)."""
    path = home / OBJECTS / sha[:2] / f"{sha}.json"
    if not path.is_file():
        raise NoticesError(f"evidence manifest {sha} is missing from {home / OBJECTS}")
    return path


def _annex(content: dict) -> list[tuple[str, Path]]:
    """The title and identity documents the letter annexes, each still as it was when drafted."""
    out: list[tuple[str, Path]] = []
    docs = [(f"annex/title/{w['id']}/{d['file']}", d) for w in content.get("works", [])
            for d in w.get("title_evidence", [])]
    docs += [(f"annex/identity/{d['file']}", d) for d in content.get("identity", [])]
    for arc, d in docs:
        src = ownership.resolve(d["source"])
        if not src.is_file() or ledger.file_sha256(src) != d["sha256"]:
            raise NoticesError(f"annexed document {d['title']!r} ({src}) is missing or changed since the "
                               "letter was drafted; not exported")
        out.append((arc, src))
    return out


def _zip(notice, out_dir: Path) -> Path:
    home = settings.get().home
    work = out_dir / f".{notice.id}.parts"
    work.mkdir(exist_ok=True)
    pdf = render_pdf.letter(notice.content, work / _name(notice, "pdf"))
    docx = render_docx.letter(notice.content, work / _name(notice, "docx"))
    members: list[tuple[str, Path]] = [(pdf.name, pdf), (docx.name, docx)]
    bundles = []
    for d in notice.content["detections"]:
        b = d["bundle"]
        if not b:
            continue
        folder = f"evidence/{d['ref']}-{d['detection_id']}"
        man_path = _manifest_path(home, b["manifest_sha256"])
        manifest = json.loads(man_path.read_text("utf-8"))
        for name, meta in sorted(manifest["files"].items()):
            members.append((f"{folder}/{name}", home / meta["path"]))
        members.append((f"{folder}/manifest.json", man_path))
        bundles.append({"ref": d["ref"], "detection_id": d["detection_id"], "bundle_id": b["id"],
                        "ledger_seq": b["ledger_seq"], "ledger_hash": b["ledger_hash"],
                        "folder": folder})
    members += _annex(notice.content)
    entries = {}
    for arc, src in members:
        if not src.is_file():
            raise NoticesError(f"evidence file missing, cannot export: {src}")
        entries[arc] = {"sha256": ledger.file_sha256(src), "bytes": src.stat().st_size}
    for b in bundles:
        if entries[f"{b['folder']}/manifest.json"]["sha256"] != next(
                d["bundle"]["manifest_sha256"] for d in notice.content["detections"]
                if d["detection_id"] == b["detection_id"]):
            raise NoticesError(f"evidence manifest of {b['detection_id']} changed since the letter was drafted")
    by_seq = {e.get("seq"): e for e in ledger.read(home)}
    chain = [by_seq.get(b["ledger_seq"]) for b in bundles]
    if any(e is None or e.get("hash") != b["ledger_hash"] for e, b in zip(chain, bundles)):
        raise NoticesError("a bundle's ledger entry is missing or differs from the one the letter cites; "
                           "run `earwitness evidence verify`")
    ledger_lines = "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in chain)
    manifest = {"notice_id": notice.id, "platform": notice.platform, "lang": notice.lang,
                "jurisdiction": notice.content.get("jurisdiction"), "revision": notice.revision,
                "created_at": utcnow().isoformat(), "software": __version__,
                "files": entries, "bundles": bundles, "ledger_entries": LEDGER_MEMBER}
    path = out_dir / _name(notice, "zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arc, src in members:
            zf.write(src, arc)
        zf.writestr(LEDGER_MEMBER, ledger_lines)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True))
    for _, src in members[:2]:
        src.unlink()
    work.rmdir()
    return path
