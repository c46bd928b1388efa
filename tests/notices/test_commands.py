"""The CLI end to end on a real store: review, cases, notices, evidence, report."""

from __future__ import annotations

import json

from click.testing import CliRunner

from earwitness.app.cli import main


def test_cli_flow(store, seed, home, tmp_path):
    with store.session() as s:
        det = seed.detection(s)
        fp = seed.detection(s, work_id="T009", media_id="fp")
        det_id, fp_id = det.id, fp.id
    run = CliRunner().invoke

    def ok(*args):
        res = run(main, ["--home", str(home), *args], env={"EARWITNESS_ACTOR": "alice"})
        assert res.exit_code == 0, (args, res.output)
        return res.output

    assert det_id in ok("review", "list")
    ok("review", "reject", fp_id, "--reason", "a different song")
    out = ok("review", "confirm", det_id)
    case_id = out.split("case ")[1].split()[0]
    out = ok("notices", "draft", "--platform", "fixture", "--lang", "en")
    notice_id = out.split()[1].rstrip(":")
    assert "1 item(s)" in out
    assert "under penalty of perjury" in ok("notices", "show", notice_id)
    pdf = ok("notices", "export", notice_id, "--format", "pdf", "--out", str(tmp_path)).strip()
    assert pdf.endswith(".pdf")
    z = ok("notices", "export", notice_id, "--format", "zip", "--out", str(tmp_path)).strip()
    assert z.endswith(".zip")
    # illegal: the case is drafted, not sent
    res = run(main, ["--home", str(home), "cases", "verify-removed", case_id, "--check", "404"])
    assert res.exit_code == 1 and "'verify_removed' is not allowed in state 'notice_drafted'" in res.output
    # a case reaches sent only with its letter, and the letter only once approved
    res = run(main, ["--home", str(home), "cases", "send-notice", case_id])
    assert res.exit_code != 0
    res = run(main, ["--home", str(home), "notices", "send", notice_id, "--channel", "email", "--to", "x",
                     "--at", "2026-03-02T10:00:00+08:00"])
    assert res.exit_code == 1 and "approve first" in res.output
    assert "approved by alice" in ok("notices", "approve", notice_id)
    ok("notices", "send", notice_id, "--channel", "email", "--to", "copyright@fixture.invalid",
       "--at", "2026-03-02T10:00:00+08:00")
    rows = json.loads(ok("cases", "list", "--overdue", "--json"))
    assert [r["id"] for r in rows] == [case_id] and rows[0]["overdue"] is True
    assert rows[0]["allowed_events"] == ["verify_removed", "counter_notice", "notice_rejected",
                                         "complain_to_regulator"]
    out = ok("cases", "counter-notice", case_id, "--basis", "dmca_512g", "--received-at",
             "2026-03-06T09:00:00+00:00")
    assert "deadline 2026-03-21 04:00" in out     # 24:00 New York, 20 March
    ok("cases", "note", case_id, "called the platform")
    shown = json.loads(ok("cases", "show", case_id, "--json"))
    assert [e["event"] for e in shown["timeline"]] == ["opened", "draft_notice", "send_notice",
                                                      "counter_notice", "note"]
    assert {e["actor"] for e in shown["timeline"]} == {"alice"}
    assert shown["detections"][0]["bundle"]["ledger_seq"] == 1
    assert "timeline:" in ok("cases", "show", case_id)
    assert "OK" in ok("evidence", "verify")
    # tamper with the screenshot: verify names it and fails
    shot = shown["detections"][0]["bundle"]
    sha = shot["manifest_sha256"]
    manifest = json.loads((home / "evidence" / "objects" / sha[:2] / f"{sha}.json").read_text())
    path = home / manifest["files"]["screenshot.png"]["path"]
    path.write_bytes(b"edited")
    res = run(main, ["--home", str(home), "evidence", "verify"])
    assert res.exit_code == 1 and "file_altered" in res.output and manifest["files"]["screenshot.png"]["path"] in res.output
    assert shot["manifest_sha256"]
    out = ok("report", "monthly", "--month", "2026-03", "--out", str(tmp_path / "r"))
    assert out.count("report-2026-03") == 4          # zh and en, Markdown and PDF
    out = ok("report", "monthly", "--month", "2026-03", "--as-of", "2026-03-20T00:00:00+08:00",
             "--out", str(tmp_path / "r2"), "--json")
    assert json.loads(out)["report"]["as_of"].startswith("2026-03-20")
    res = run(main, ["--home", str(home), "report", "monthly", "--month", "2026-03", "--as-of", "soon"])
    assert res.exit_code != 0 and "not an ISO time" in res.output
