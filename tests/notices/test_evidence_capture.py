"""Court-grade evidence in the bundle and the letter zip: the downloaded original beside the normalised
audio, the stamped page picture and the page's WARC, each hashed into the ledger entry, each re-verified
from the zip alone, and each change named."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from crawler import page_capture
from earwitness.app.cli import main
from notices import evidence, export, ledger, letters, review, timestamping
from notices.exceptions import EvidenceError

from tests.notices.conftest import png_bytes
from tests.notices.test_evidence import tsa  # noqa: F401  (the local RFC 3161 authority fixture)

AT = datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _capture(s, seed, home, n: int):
    """A detection whose clip carries what a crawl now keeps: original download, stamped picture, WARC."""
    det = seed.detection(s, work_id=f"T00{n + 1}", seed=n + 1)
    clip = det.clip
    original = b"\x00\x00\x00\x20ftypisom" + bytes([n]) * 4096           # the container as served
    warc = page_capture.to_warc([page_capture.Exchange(
        "GET", clip.url, {"accept": "text/html"}, 200, "OK", {"content-type": "text/html"},
        f"<html><h1>{clip.title}</h1></html>".encode())], page_url=clip.url, captured_at=AT)
    picture = page_capture.stamp(png_bytes(seed=n), clip.url, AT, "Asia/Shanghai")
    for attr, data, suffix in (("original", original, ".mp4"), ("warc", warc, ".warc.gz"),
                               ("screenshot", picture, ".png")):
        rel = f"media/test/{attr}-{n}{suffix}"
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)
        setattr(clip, f"{attr}_path", rel)
        setattr(clip, f"{attr}_sha256", _sha(data))
    clip.extra = {"page_capture": {"url": clip.url, "captured_at": AT.isoformat(), "exchanges": 1}}
    s.flush()
    return det


def test_bundle_carries_original_capture_and_warc(store, seed, home):
    with store.session() as s:
        det = _capture(s, seed, home, 0)
        b = evidence.build_bundle(s, det.id)
        assert set(b.files) == {"clip.wav", "original.mp4", "screenshot.png", "network.warc.gz", "page.html",
                                "metadata.json"}
        clip = det.clip
        assert b.files["original.mp4"]["sha256"] == clip.original_sha256
        assert b.files["clip.wav"]["sha256"] == clip.media_sha256 != clip.original_sha256
        assert b.files["network.warc.gz"]["sha256"] == clip.warc_sha256
        meta = json.loads((home / b.files["metadata.json"]["path"]).read_text("utf-8"))
        assert meta["clip"]["original_sha256"] == clip.original_sha256
        assert meta["clip"]["page_capture"]["captured_at"] == AT.isoformat()
        entry = ledger.read(home)[-1]
        assert {k: v["sha256"] for k, v in entry["files"].items() if k != "manifest.json"} == \
            {k: v["sha256"] for k, v in b.files.items()}
    assert ledger.verify(home, store=store).ok


def test_zip_without_time_stamps_says_so(store, seed, home, tmp_path):
    with store.session() as s:
        det = _capture(s, seed, home, 0)
        evidence.build_bundle(s, det.id)
        review.confirm(s, det.id, actor="reviewer")
        n = letters.draft(s, platform="fixture", lang="zh", actor="legal")
        z, = export.export(s, n.id, "zip", tmp_path / "out")
    rep = ledger.verify_bundle(z, timestamping.Trust(()))
    assert rep.ok and rep.timestamps_checked == 0
    assert [(w.kind, w.where) for w in rep.warnings] == [("not_timestamped", "entry 1")]


def test_changed_original_is_refused_not_bundled(store, seed, home):
    with store.session() as s:
        det = _capture(s, seed, home, 0)
        (home / det.clip.original_path).write_bytes(b"re-encoded later")
        with pytest.raises(EvidenceError, match="original of clip .* changed since capture"):
            evidence.build_bundle(s, det.id)


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))


def test_zip_alone_reverifies_original_capture_and_warc(store, seed, home, tmp_path, tsa):  # noqa: F811
    auth, url = tsa
    stamper = timestamping.Timestamper(url, auth.trust())
    with store.session() as s:
        for i in range(2):
            det = _capture(s, seed, home, i)
            evidence.build_bundle(s, det.id, timestamper=stamper)
            review.confirm(s, det.id, actor="reviewer")
        n = letters.draft(s, platform="fixture", lang="zh", actor="legal")
        z, = export.export(s, n.id, "zip", tmp_path / "out")
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        warc_member = next(m for m in names if m.endswith("network.warc.gz"))
        from warcio.archiveiterator import ArchiveIterator
        kinds = [r.rec_type for r in ArchiveIterator(io.BytesIO(zf.read(warc_member)))]
    assert sum(m.endswith("/original.mp4") for m in names) == 2 and kinds[0] == "warcinfo" and "response" in kinds
    root = tmp_path / "root.pem"
    root.write_bytes(auth.root_pem)
    recipient = tmp_path / "recipient"
    res = CliRunner().invoke(main, ["--home", str(recipient), "evidence", "verify", "--bundle", str(z),
                                    "--trust-root", str(root)])
    assert res.exit_code == 0 and "2 time-stamps: OK" in res.output, res.output
    for suffix in ("/original.mp4", "/network.warc.gz", "/screenshot.png", "/clip.wav"):
        member = next(m for m in names if m.endswith(suffix))
        bad = tmp_path / f"bad-{suffix.strip('/')}.zip"
        _rewrite(z, bad, lambda name, data, m=member: data[:-1] + bytes([data[-1] ^ 1]) if name == m else data)
        res = CliRunner().invoke(main, ["--home", str(recipient), "evidence", "verify", "--bundle", str(bad),
                                        "--trust-root", str(root)])
        assert res.exit_code == 1 and f"file_altered: {member}" in res.output, res.output
