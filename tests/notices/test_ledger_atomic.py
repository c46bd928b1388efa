"""Issue 12, failure 2: the ledger and the store commit together, or the ledger says why not.

On the code before, a rolled-back bundle left an entry nobody flagged, and the
rebuilt bundle overwrote the manifest at its fixed path, so ``verify`` reported
``file_altered`` for good: a false tampering alarm. Here a rollback, a writer
killed between the entry and the commit, and a writer killed in the middle of a
line are each reported truly (as warnings), never as tampering, and never lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from earwitness.kernel.store.case_models import EvidenceBundle
from notices import evidence, ledger


class Boom(Exception):
    pass


def test_rolled_back_bundle_is_an_orphan_not_an_alarm(store, seed, home):
    with store.session() as s:
        det_id = seed.detection(s).id
    with pytest.raises(Boom):
        with store.session() as s:
            evidence.build_bundle(s, det_id)
            raise Boom("the letter was refused after the evidence was bundled")
    rep = ledger.verify(home, store=store)
    assert rep.ok, rep.problems
    assert [(w.kind, w.where) for w in rep.warnings] == [("orphan_entry", "entry 1")]
    assert [e["kind"] for e in ledger.read(home)] == ["evidence_bundle", "abort"]
    # built again: a new entry, the first manifest untouched (content-addressed), no false alarm
    with store.session() as s:
        b = evidence.build_bundle(s, det_id)
        assert b.ledger_seq == 3 and b.manifest_path.startswith("evidence/objects/")
    rep = ledger.verify(home, store=store)
    assert rep.ok and "file_altered" not in rep.kinds(), rep.problems
    assert [w.kind for w in rep.warnings] == ["orphan_entry"]


def test_rows_without_entries_and_entries_without_rows(store, seed, home):
    with store.session() as s:
        ids = [seed.detection(s, seed=i + 1).id for i in range(2)]
        for d in ids:
            evidence.build_bundle(s, d)
    with store.session() as s:                    # a row deleted behind the ledger's back
        s.delete(s.get(EvidenceBundle, s.query(EvidenceBundle).filter_by(detection_id=ids[0]).one().id))
    entries = ledger.read(home)
    with open(ledger.ledger_path(home), "w") as f:   # and an entry cut off behind the store's back
        f.write(json.dumps(entries[0], sort_keys=True) + "\n")
    rep = ledger.verify(home, store=store)
    assert [(p.kind, p.where) for p in rep.problems] == [("row_without_entry", "entry 2")]
    assert [(w.kind, w.where) for w in rep.warnings] == [("entry_without_row", "entry 1")]


def _child(home, body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import os, signal
        from earwitness.kernel import settings
        settings.configure({str(home)!r})
        from earwitness.kernel.store import open_store
        from notices import evidence, ledger
    """) + textwrap.dedent(body)
    env = dict(os.environ, EARWITNESS_HOME=str(home))
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120, cwd=os.getcwd())


def test_writer_killed_between_entry_and_commit(store, seed, home):
    with store.session() as s:
        det_id = seed.detection(s).id
    res = _child(home, f"""
        with open_store().session() as s:
            evidence.build_bundle(s, {det_id!r})
            os.kill(os.getpid(), signal.SIGKILL)      # dies before the store commits
    """)
    assert res.returncode == -signal.SIGKILL, res.stderr
    rep = ledger.verify(home, store=store)
    assert rep.ok, rep.problems
    assert [(w.kind, w.where) for w in rep.warnings] == [("entry_without_row", "entry 1")]
    with store.session() as s:                    # the next writer builds it again; nothing lost
        assert evidence.build_bundle(s, det_id).ledger_seq == 2
    rep = ledger.verify(home, store=store)
    assert rep.ok and [w.kind for w in rep.warnings] == ["entry_without_row"]


def test_writer_killed_in_the_middle_of_a_line(store, seed, home):
    with store.session() as s:
        first = evidence.build_bundle(s, seed.detection(s, seed=1).id)
        det_id = seed.detection(s, seed=2).id
    res = _child(home, """
        line = ('{"kind": "evidence_bundle", "bundle_id": "X", "files": {}, "seq": 2' + ' ' * 4000).encode()
        fd = os.open(ledger.ledger_path(settings.get().home), os.O_WRONLY | os.O_APPEND)
        os.write(fd, line[: len(line) // 2])           # half a line reaches the disk...
        os.kill(os.getpid(), signal.SIGKILL)           # ...and the writer dies
    """)
    assert res.returncode == -signal.SIGKILL, res.stderr
    rep = ledger.verify(home, store=store)
    assert rep.ok, rep.problems                      # not "not_json": nobody altered anything
    assert [(w.kind, w.where) for w in rep.warnings] == [("torn_tail", "line 2")]
    with store.session() as s:
        b = evidence.build_bundle(s, det_id)
    entries = ledger.read(home)
    assert [e["kind"] for e in entries] == ["evidence_bundle", "torn_tail_recovered", "evidence_bundle"]
    assert entries[1]["prev"] == first.ledger_hash and b.ledger_seq == 3
    saved = home / "evidence" / entries[1]["saved_as"]
    import hashlib
    assert saved.stat().st_size == entries[1]["bytes"] > 2000          # kept, not lost
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == entries[1]["sha256"]
    rep = ledger.verify(home, store=store)
    assert rep.ok and [w.kind for w in rep.warnings] == ["torn_tail_recovered"]
