"""Evidence bundles, the hash-chained ledger (each kind of tampering) and RFC 3161 time-stamps."""

from __future__ import annotations

import base64
import json
from zoneinfo import ZoneInfo

import pytest

from notices import evidence, ledger, timestamping
from notices.exceptions import EvidenceError, TimestampError

from tests.notices.conftest import T0
from tests.notices.tsa_authority import Authority, serve


@pytest.fixture
def tsa():
    auth = Authority()
    server, url = serve(auth)
    yield auth, url
    server.shutdown()
    server.server_close()


def _bundles(store, seed, n=3, **kw):
    with store.session() as s:
        dets = [seed.detection(s, seed=i + 1) for i in range(n)]
        return [evidence.build_bundle(s, d.id, **kw) for d in dets]


def test_bundle_contents(store, seed, home):
    with store.session() as s:
        det = seed.detection(s)
        b = evidence.build_bundle(s, det.id)
        assert evidence.build_bundle(s, det.id).id == b.id     # once per detection
        names = set(b.files)
        assert names == {"clip.wav", "screenshot.png", "page.html", "metadata.json"}
        for meta in b.files.values():
            assert ledger.file_sha256(home / meta["path"]) == meta["sha256"]
        assert b.files["clip.wav"]["sha256"] == det.clip.media_sha256
        meta = json.loads((home / b.files["metadata.json"]["path"]).read_text("utf-8"))
        d = meta["detection"]
        assert (d["clip_offset_s"], d["ref_offset_s"], d["score"], d["pitch_semitones"],
                d["tempo_ratio"]) == (0.5, 12.25, 85.0, -1.0, 1.05)
        assert meta["clip"]["captured_at"] == {"utc": T0.isoformat(),
                                               "Asia/Shanghai": T0.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()}
        assert meta["clip"]["captured_at"]["Asia/Shanghai"].endswith("17:00:00+08:00")
        assert meta["software"]["matcher"] == "test-matcher-1" and meta["software"]["earwitness"]
        assert meta["files"]["screenshot.png"] == b.files["screenshot.png"]["sha256"]
        manifest = json.loads((home / b.manifest_path).read_text("utf-8"))
        assert manifest["files"].keys() == b.files.keys()
    assert ledger.verify(home, store=store).ok


def test_bundle_refuses_changed_evidence(store, seed, home):
    with store.session() as s:
        det = seed.detection(s)
        (home / det.clip.media_path).write_bytes(b"not the captured audio")
        with pytest.raises(EvidenceError, match="changed since capture"):
            evidence.build_bundle(s, det.id)
        (home / det.clip.screenshot_path).unlink()
        det.clip.media_sha256 = None
        with pytest.raises(EvidenceError, match="missing"):
            evidence.build_bundle(s, det.id)
    assert ledger.read(home) == []


def test_chain_links(store, seed, home):
    _bundles(store, seed)
    entries = ledger.read(home)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev"] == ledger.GENESIS
    assert entries[1]["prev"] == entries[0]["hash"] and entries[2]["prev"] == entries[1]["hash"]
    rep = ledger.verify(home, store=store)
    assert rep.ok and rep.entries == 3 and rep.files_checked == 15


def _rewrite(home, entries):
    ledger.ledger_path(home).write_text(
        "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entries), "utf-8")


def test_altered_file(store, seed, home):
    b = _bundles(store, seed)[1]
    path = home / b.files["screenshot.png"]["path"]
    path.write_bytes(path.read_bytes() + b"x")
    rep = ledger.verify(home, store=store)
    assert [(p.kind, p.where) for p in rep.problems] == [("file_altered", b.files["screenshot.png"]["path"])]
    assert "entry 2" in rep.problems[0].message


def test_missing_file(store, seed, home):
    b = _bundles(store, seed)[0]
    (home / b.manifest_path).unlink()
    rep = ledger.verify(home, store=store)
    assert [(p.kind, p.where) for p in rep.problems] == [("file_missing", b.manifest_path)]


def test_altered_entry(store, seed, home):
    _bundles(store, seed)
    entries = ledger.read(home)
    entries[1]["detection_id"] = "someone-else"
    _rewrite(home, entries)
    rep = ledger.verify(home, store=store)
    assert ("entry_altered", "entry 2 (line 2)") in [(p.kind, p.where) for p in rep.problems]


def test_altered_and_rehashed_entry_breaks_chain(store, seed, home):
    _bundles(store, seed)
    entries = ledger.read(home)
    entries[0]["files"]["clip.wav"]["sha256"] = "0" * 64
    entries[0]["hash"] = ledger.entry_hash(entries[0])
    _rewrite(home, entries)
    rep = ledger.verify(home, store=store)
    kinds = [(p.kind, p.where) for p in rep.problems]
    assert ("chain_broken", "entry 2 (line 2)") in kinds
    assert ("entry_altered", "entry 1") in kinds          # the store kept the true hash
    assert any(p.kind == "file_altered" for p in rep.problems)


def test_missing_entry(store, seed, home):
    _bundles(store, seed)
    entries = ledger.read(home)
    _rewrite(home, [entries[0], entries[2]])
    rep = ledger.verify(home, store=store)
    assert [(p.kind, p.where) for p in rep.problems] == [("entry_missing", "entry 2")]


def test_truncated_tail_found_through_the_store(store, seed, home):
    _bundles(store, seed)
    _rewrite(home, ledger.read(home)[:2])
    assert ledger.verify(home, use_store=False).ok         # the file alone cannot tell
    rep = ledger.verify(home)                              # the home's store can
    assert [(p.kind, p.where) for p in rep.problems] == [("row_without_entry", "entry 3")]


def test_reordered_entries(store, seed, home):
    _bundles(store, seed)
    e = ledger.read(home)
    _rewrite(home, [e[0], e[2], e[1]])
    rep = ledger.verify(home, store=store)
    kinds = {p.kind for p in rep.problems}
    assert "entry_reordered" in kinds
    assert any(p.kind == "entry_reordered" and p.where == "entry 2 (line 3)" for p in rep.problems)


def test_garbage_line(store, seed, home):
    _bundles(store, seed, n=1)
    with open(ledger.ledger_path(home), "a") as f:
        f.write("{not json\n")
    rep = ledger.verify(home, use_store=False)
    assert [(p.kind, p.where) for p in rep.problems] == [("not_json", "line 2")]


def test_timestamped_entries(store, seed, home, tsa):
    auth, url = tsa
    stamper = timestamping.Timestamper(url, auth.trust())
    bundles = _bundles(store, seed, n=2, timestamper=stamper)
    assert all(b.timestamped for b in bundles) and auth.requests == 2
    entries = ledger.read(home)
    info = timestamping.verify_token(base64.b64decode(entries[0]["tst"]),
                                     bytes.fromhex(entries[0]["hash"]), auth.trust())
    assert info.serial_number == 1 and "Earwitness Test TSA" in info.tsa_subject
    assert "Earwitness Test Root CA" in info.trust_root
    rep = ledger.verify(home, store=store, trust=auth.trust())
    assert rep.ok and rep.timestamps_checked == 2
    # a token moved onto another entry no longer matches that entry
    entries[1]["tst"] = entries[0]["tst"]
    _rewrite(home, entries)
    rep = ledger.verify(home, store=store, trust=auth.trust())
    assert [(p.kind, p.where) for p in rep.problems] == [("timestamp_invalid", "entry 2 (line 2)")]
    assert "imprint" in rep.problems[0].message


def test_timestamp_from_settings_and_pin(store, seed, home, tsa, monkeypatch):
    from earwitness.kernel import settings
    auth, url = tsa
    (home / "tsa.pem").write_bytes(auth.cert_pem)
    (home / "root.pem").write_bytes(auth.root_pem)
    monkeypatch.setenv("EARWITNESS__NOTICES__TSA_URL", url)
    monkeypatch.setenv("EARWITNESS__NOTICES__TSA_TRUST_ROOTS", '["root.pem"]')
    monkeypatch.setenv("EARWITNESS__NOTICES__TSA_CERT", "tsa.pem")
    settings.configure(home)
    b = _bundles(store, seed, n=1)[0]
    assert b.timestamped
    assert ledger.verify(home, store=store).ok          # the configured roots and pin
    other = Authority(auth.ca)                           # same root, another certificate
    pinned_other = timestamping.Trust(auth.trust().roots, other.cert)
    with pytest.raises(TimestampError, match="pinned"):
        timestamping.verify_token(base64.b64decode(ledger.read(home)[0]["tst"]),
                                  bytes.fromhex(b.ledger_hash), pinned_other)


def test_forged_signature_detected(tsa):
    auth, url = tsa
    digest = timestamping.sha256(b"entry")
    token = bytearray(timestamping.request(digest, url, auth.trust()))
    token[-5] ^= 0xFF              # inside the signature bytes at the end of the SignerInfo
    with pytest.raises(TimestampError) as err:
        timestamping.verify_token(bytes(token), digest, auth.trust())
    assert err.value.reason == "bad_signature"


def test_refusing_or_absent_authority_loses_nothing(store, seed, home):
    auth = Authority(refuse=True)
    server, url = serve(auth)
    try:
        with pytest.raises(TimestampError, match="rejection"):
            _bundles(store, seed, n=1, timestamper=timestamping.Timestamper(url, auth.trust()))
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(TimestampError, match="unreachable"):
        _bundles(store, seed, n=1, timestamper=timestamping.Timestamper(url, auth.trust(), timeout=2))
    assert ledger.read(home) == []
    from earwitness.kernel.store.case_models import EvidenceBundle
    with store.session() as s:
        assert s.query(EvidenceBundle).count() == 0
