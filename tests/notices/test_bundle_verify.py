"""An exported letter zip carries its ledger entries and time-stamp tokens: a recipient re-verifies it alone."""

from __future__ import annotations

import json
import zipfile

from click.testing import CliRunner

from earwitness.app.cli import main
from notices import evidence, export, ledger, letters, review, timestamping

from tests.notices.test_evidence import tsa  # noqa: F401  (the local RFC 3161 authority fixture)
from tests.notices.tsa_authority import CertificateAuthority


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))


def test_zip_verifies_alone_and_names_tampering(store, seed, home, tmp_path, tsa):  # noqa: F811
    auth, url = tsa
    stamper = timestamping.Timestamper(url, auth.trust())
    with store.session() as s:
        for i in range(2):
            det = seed.detection(s, work_id=f"T00{i + 1}", seed=i + 1)
            evidence.build_bundle(s, det.id, timestamper=stamper)
            review.confirm(s, det.id, actor="reviewer")
        n = letters.draft(s, platform="fixture", lang="en", actor="legal")
        z, = export.export(s, n.id, "zip", tmp_path / "out")
    rep = ledger.verify_bundle(z, auth.trust())
    assert rep.ok and rep.entries == 2 and rep.timestamps_checked == 2, rep.problems
    root = tmp_path / "root.pem"
    root.write_bytes(auth.root_pem)
    elsewhere = tmp_path / "recipient"              # no store, no evidence: the zip alone
    res = CliRunner().invoke(main, ["--home", str(elsewhere), "evidence", "verify", "--bundle", str(z),
                                    "--trust-root", str(root)])
    assert res.exit_code == 0 and "2 entries" in res.output and "2 time-stamps: OK" in res.output, res.output
    # without a root of the recipient's own, or with another one, the tokens are not taken on their word
    res = CliRunner().invoke(main, ["--home", str(elsewhere), "evidence", "verify", "--bundle", str(z)])
    assert res.exit_code == 1 and "no_trust_root" in res.output, res.output
    rogue = tmp_path / "rogue.pem"
    rogue.write_bytes(CertificateAuthority("Rogue Root CA").pem)
    res = CliRunner().invoke(main, ["--home", str(elsewhere), "evidence", "verify", "--bundle", str(z),
                                    "--trust-root", str(rogue)])
    assert res.exit_code == 1 and res.output.count("timestamp_invalid") == 2 and "untrusted" in res.output

    with zipfile.ZipFile(z) as zf:
        clip = next(n for n in zf.namelist() if n.endswith("clip.wav"))
    bad = tmp_path / "altered-clip.zip"
    _rewrite(z, bad, lambda name, data: data + b"x" if name == clip else data)
    rep = ledger.verify_bundle(bad, auth.trust())
    assert ("file_altered", clip) in {(p.kind, p.where) for p in rep.problems}

    def forge(name, data):
        if name != "ledger/entries.jsonl":
            return data
        lines = [json.loads(x) for x in data.decode().splitlines()]
        lines[0]["detection_id"] = "someone else"
        return "".join(json.dumps(x) + "\n" for x in lines).encode()
    bad = tmp_path / "altered-entry.zip"
    _rewrite(z, bad, forge)
    assert "entry_altered" in ledger.verify_bundle(bad, auth.trust()).kinds()
