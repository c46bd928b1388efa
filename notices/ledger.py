"""The evidence ledger: an append-only, hash-chained JSON-lines file under ``<home>/evidence``.

Each entry commits to the one before (``prev`` is the previous entry's ``hash``;
the first entry's is 64 zeros) and to the SHA-256 of every evidence file it
lists. ``hash`` is the SHA-256 of the entry's canonical JSON without ``hash``
and ``tst``; ``tst`` is an RFC 3161 token over that hash where an authority is
configured. :func:`verify` re-reads everything and names each problem: an
altered or missing file, an altered, missing or reordered entry, a bad
time-stamp. Given the store, it also checks that every bundle's entry is there
with the hash the store recorded (so a truncated tail is found too).

The ledger is a file and the store a database, so an entry and its bundle row
commit in two phases: the entry is appended (under the ledger lock) inside the
store transaction that adds the row; if that transaction rolls back, an ``abort``
entry naming it follows (:func:`abort`), and the first entry is an *orphan*,
accounted for. A writer killed between the two leaves an entry without a row; a
writer killed in the middle of a line leaves a torn last line, which the next
append moves aside (kept in ``ledger.torn-<n>``) and records. :func:`verify`
names each of these as a warning (true, and not tampering) and keeps failures
for what no interrupted writer can cause: altered, missing or reordered entries,
altered files, rows whose entry is not in the ledger.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from earwitness.kernel.store.models import utcnow
from notices.exceptions import LedgerError, TimestampError
from earwitness.kernel.digests import file_sha256

GENESIS = "0" * 64
LEDGER_NAME = "ledger.jsonl"


def evidence_dir(home: Path) -> Path:
    return Path(home) / "evidence"


def ledger_path(home: Path) -> Path:
    return evidence_dir(home) / LEDGER_NAME


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "tst")}
    return hashlib.sha256(canonical(body)).hexdigest()




@contextmanager
def _locked(home: Path) -> Iterator[None]:
    folder = evidence_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "ledger.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read(home: Path) -> list[dict]:
    """The ledger's entries in file order (raises on a line that is not JSON)."""
    path = ledger_path(home)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise LedgerError(f"{path}:{n}: not JSON: {exc}") from exc
    return out


def _recover_torn_tail(home: Path) -> dict | None:
    """A last line without its newline is an append that never finished: move it aside, keep it."""
    path = ledger_path(home)
    if not path.exists() or path.stat().st_size == 0:
        return None
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return None
    cut = data.rfind(b"\n") + 1
    torn = data[cut:]
    n = 1
    while (evidence_dir(home) / f"ledger.torn-{n}").exists():
        n += 1
    saved = evidence_dir(home) / f"ledger.torn-{n}"
    saved.write_bytes(torn)
    with open(path, "r+b") as f:
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    return {"kind": "torn_tail_recovered", "bytes": len(torn),
            "sha256": hashlib.sha256(torn).hexdigest(), "saved_as": saved.name}


def _append_locked(home: Path, body: dict, timestamper) -> dict:
    entries = read(home)
    last = entries[-1] if entries else None
    entry = dict(body)
    entry["seq"] = (last["seq"] + 1) if last else 1
    entry["prev"] = last["hash"] if last else GENESIS
    entry.setdefault("at", utcnow().isoformat())
    entry["hash"] = entry_hash(entry)
    if timestamper is not None:
        entry["tst"] = base64.b64encode(timestamper(bytes.fromhex(entry["hash"]))).decode("ascii")
    with open(ledger_path(home), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return entry


def append(home: Path, body: dict, *, timestamper: Callable[[bytes], bytes] | None = None) -> dict:
    """Append one entry (``seq``, ``prev``, ``at``, ``hash`` and maybe ``tst`` are added).

    A torn last line left by a killed writer is first moved aside and recorded.
    """
    with _locked(home):
        recovered = _recover_torn_tail(home)
        if recovered is not None:
            _append_locked(home, recovered, None)
        return _append_locked(home, body, timestamper)


def abort(home: Path, entry: dict, reason: str) -> dict:
    """Record that ``entry``'s store transaction rolled back: the entry is an orphan, accounted for."""
    return append(home, {"kind": "abort", "aborts": entry["seq"], "aborted_hash": entry["hash"],
                         "bundle_id": entry.get("bundle_id"), "reason": reason})


@dataclass(frozen=True)
class Problem:
    kind: str        # entry_altered | entry_missing | entry_reordered | chain_broken | file_altered | file_missing | timestamp_invalid | not_json
    where: str       # "entry 3", "line 4", or a file path relative to the data home
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.message}"


# what an interrupted writer or a rolled-back transaction leaves: reported, not tampering
WARNING_KINDS = ("orphan_entry", "entry_without_row", "torn_tail", "torn_tail_recovered",
                 "not_timestamped")   # the last: a zip's entry without a token (intact, time unproven)


@dataclass
class VerifyReport:
    entries: int = 0
    files_checked: int = 0
    timestamps_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


def _home_store(home: Path):
    """The configured store when ``home`` is the configured data home (else None)."""
    from earwitness.kernel import settings
    from earwitness.kernel.store import open_store
    conf = settings.get()
    if conf.home != home.resolve():
        return None
    return open_store(conf.store_url)


def _check_token(report: VerifyReport, entry: dict, where: str, trust) -> None:
    """One entry's RFC 3161 token against the trust roots; a failure names the check that failed."""
    from notices import timestamping
    report.timestamps_checked += 1
    try:
        timestamping.verify_token(base64.b64decode(entry["tst"]), bytes.fromhex(entry["hash"]), trust)
    except TimestampError as exc:
        report.problems.append(Problem("timestamp_invalid", where, f"{exc.reason}: {exc}"))
    except ValueError as exc:
        report.problems.append(Problem("timestamp_invalid", where, f"malformed: {exc}"))


def verify(home: Path, *, expected: dict[int, str] | None = None, check_files: bool = True,
           trust=None, store=None, use_store: bool = True) -> VerifyReport:
    """Check the ledger and every file it lists; name every problem found.

    ``expected`` maps ledger seq -> entry hash as the store recorded them; it is
    read from the evidence bundles in ``store`` (default: the configured store,
    when ``home`` is the configured data home; ``use_store=False``: the file alone).
    ``trust`` (a :class:`notices.timestamping.Trust`; default: the configured roots) is what
    each time-stamp's signer must chain to.
    """
    home = Path(home)
    if trust is None:
        from notices.timestamping import Trust
        trust = Trust.from_settings(home)
    if expected is None and store is None and use_store:
        store = _home_store(home)
    rows: dict[str, int] | None = None      # bundle id -> ledger seq, as the store recorded them
    if expected is None and store is not None:
        from sqlalchemy import select
        from earwitness.kernel.store.case_models import EvidenceBundle
        with store.session() as s:
            recorded = list(s.execute(select(EvidenceBundle.id, EvidenceBundle.ledger_seq,
                                             EvidenceBundle.ledger_hash)))
        expected = {seq: h for _, seq, h in recorded}
        rows = {bid: seq for bid, seq, _ in recorded}
    report = VerifyReport()
    path = ledger_path(home)
    entries: list[tuple[int, dict]] = []
    if path.exists():
        raw = path.read_bytes()
        lines = raw.decode("utf-8", errors="replace").splitlines()
        torn_at = len(lines) if raw and not raw.endswith(b"\n") else None
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if n == torn_at:
                report.warnings.append(Problem(
                    "torn_tail", f"line {n}", "the last line was never finished (a writer stopped in the "
                    "middle of an append); the next append moves it aside"))
                continue
            try:
                entries.append((n, json.loads(line)))
            except json.JSONDecodeError:
                report.problems.append(Problem("not_json", f"line {n}", "line is not JSON (altered)"))
    report.entries = len(entries)
    by_seq: dict[int, dict] = {}
    gaps: set[int] = set()
    prev_hash, prev_seq = GENESIS, 0
    for n, e in entries:
        seq = e.get("seq")
        where = f"entry {seq} (line {n})"
        if not isinstance(seq, int):
            report.problems.append(Problem("entry_altered", f"line {n}", "entry has no sequence number"))
            continue
        by_seq[seq] = e
        stored = e.get("hash")
        if entry_hash(e) != stored:
            report.problems.append(Problem("entry_altered", where,
                                           "content does not match its hash"))
        if seq <= prev_seq:
            report.problems.append(Problem("entry_reordered", where,
                                           f"comes after entry {prev_seq} in the file"))
        elif seq > prev_seq + 1:
            gap = range(prev_seq + 1, seq)
            gaps.update(gap)
            report.problems.append(Problem("entry_missing", f"entries {gap.start}-{gap.stop - 1}"
                                           if len(gap) > 1 else f"entry {gap.start}",
                                           f"missing before entry {seq}"))
        elif e.get("prev") != prev_hash:
            report.problems.append(Problem("chain_broken", where,
                                           f"does not commit to entry {prev_seq} (previous entry "
                                           "altered and re-hashed, or this one rewritten)"))
        prev_hash, prev_seq = stored, max(prev_seq, seq)
        if check_files:
            for name, meta in sorted((e.get("files") or {}).items()):
                fpath = home / meta["path"]
                report.files_checked += 1
                if not fpath.is_file():
                    report.problems.append(Problem("file_missing", meta["path"],
                                                   f"{name} of entry {seq} is missing"))
                elif file_sha256(fpath) != meta["sha256"]:
                    report.problems.append(Problem("file_altered", meta["path"],
                                                   f"{name} of entry {seq} does not match its SHA-256"))
        if e.get("tst"):
            _check_token(report, e, where, trust)
    aborted = {e.get("aborts") for e in by_seq.values() if e.get("kind") == "abort"}
    for seq, e in sorted(by_seq.items()):
        if e.get("kind") == "torn_tail_recovered":
            report.warnings.append(Problem("torn_tail_recovered", f"entry {seq}",
                                           f"an unfinished append of {e.get('bytes')} bytes was moved aside "
                                           f"to evidence/{e.get('saved_as')}"))
        if rows is None or e.get("kind") != "evidence_bundle":
            continue
        if seq in aborted:
            report.warnings.append(Problem("orphan_entry", f"entry {seq}",
                                           f"bundle {e.get('bundle_id')}: its store transaction rolled back "
                                           "(abort entry recorded); the evidence was never used"))
        elif rows.get(e.get("bundle_id")) != seq:
            report.warnings.append(Problem("entry_without_row", f"entry {seq}",
                                           f"bundle {e.get('bundle_id')} has no row in the store (the writer "
                                           "stopped before its transaction committed, or the row was deleted)"))
    for seq, h in sorted((expected or {}).items()):
        e = by_seq.get(seq)
        if e is None:
            if seq not in gaps:
                report.problems.append(Problem("row_without_entry", f"entry {seq}",
                                               "recorded in the store but not in the ledger"))
        elif e.get("hash") != h:
            report.problems.append(Problem("entry_altered", f"entry {seq}",
                                           "hash differs from the one the store recorded"))
    return report


def verify_bundle(zip_path: Path, trust) -> VerifyReport:
    """Check an exported letter zip on its own: every member against the manifest, each bundle's
    ledger entry (its hash, the files it commits to, its time-stamp token against ``trust``, a
    :class:`notices.timestamping.Trust`: the recipient's own roots, never ones the zip brings)."""
    report = VerifyReport()
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise LedgerError(f"{zip_path}: not a readable zip: {exc}") from exc
    with zf:
        names = set(zf.namelist())

        def sha(arc: str) -> str:
            return hashlib.sha256(zf.read(arc)).hexdigest()

        if "manifest.json" not in names:
            report.problems.append(Problem("file_missing", "manifest.json", "the zip has no manifest"))
            return report
        manifest = json.loads(zf.read("manifest.json"))
        for arc, meta in sorted(manifest.get("files", {}).items()):
            report.files_checked += 1
            if arc not in names:
                report.problems.append(Problem("file_missing", arc, "listed in the manifest, not in the zip"))
            elif sha(arc) != meta["sha256"]:
                report.problems.append(Problem("file_altered", arc, "does not match the manifest's SHA-256"))
        member = manifest.get("ledger_entries")
        entries = {}
        if member in names:
            for line in zf.read(member).decode("utf-8").splitlines():
                if line.strip():
                    e = json.loads(line)
                    entries[e.get("seq")] = e
        for b in manifest.get("bundles", []):
            where = f"entry {b['ledger_seq']}"
            e = entries.get(b["ledger_seq"])
            if e is None:
                report.problems.append(Problem("entry_missing", where, f"bundle {b['bundle_id']}'s entry is not in the zip"))
                continue
            report.entries += 1
            if entry_hash(e) != e.get("hash") or e.get("hash") != b["ledger_hash"]:
                report.problems.append(Problem("entry_altered", where, "content does not match its hash"))
            for name, meta in sorted((e.get("files") or {}).items()):
                arc = f"{b['folder']}/{name}"
                report.files_checked += 1
                if arc not in names:
                    report.problems.append(Problem("file_missing", arc, f"{name} of {where} is not in the zip"))
                elif sha(arc) != meta["sha256"]:
                    report.problems.append(Problem("file_altered", arc, f"{name} does not match {where}"))
            if e.get("tst"):
                _check_token(report, e, where, trust)
            else:
                report.warnings.append(Problem("not_timestamped", where, "no time-stamp token: the zip shows the "
                                               "evidence is intact as entered, not when it was entered"))
    return report
