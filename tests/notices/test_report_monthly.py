"""The monthly report (issue 12): external monitoring complete, zh and en PDFs read back, every figure
traced to its records in the annex, one clock, and checks that refuse to publish a report that does not add up."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from earwitness.kernel.store.case_models import Case
from notices import cases, letters, report, review
from notices.report import ReportInconsistent

SH = ZoneInfo("Asia/Shanghai")


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=SH)


def _pdf_lines(path) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True,
                         text=True).stdout
    return [line.strip() for line in out.splitlines()]


def _send(s, platform, case_ids, day, *, jurisdiction=None, lang=None):
    n = letters.draft(s, platform=platform, actor="legal", case_ids=case_ids, now=_at(day, 11),
                      jurisdiction=jurisdiction, lang=lang)
    letters.approve(s, n.id, actor="legal")
    letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x", sent_at=_at(day, 12))
    return n


def _confirm(s, seed, platform, media, work, day, uploader="uploader_a"):
    det = seed.detection(s, platform=platform, media_id=media, work_id=work, created_at=_at(day, 9),
                         uploader=uploader, seed=day)
    return review.confirm(s, det.id, actor="r", at=_at(day, 10))


@pytest.fixture
def march(store, seed):
    """A March 2026 with every path: removals, a resolution, a counter-notice, a platform refusal, a
    re-upload of removed music by the same uploader, a withdrawal, letters under two jurisdictions."""
    with store.session() as s:
        a = _confirm(s, seed, "fixture", "a", "T001", 2)
        _send(s, "fixture", [a.id], 3)
        cases.apply(s, a.id, "verify_removed", actor="recheck", at=_at(5, 18), check="404")
        b = _confirm(s, seed, "fixture", "b", "T002", 9)
        _send(s, "fixture", [b.id], 10, jurisdiction="US", lang="en")
        cases.apply(s, b.id, "notice_rejected", actor="legal", at=_at(12, 9), answer="no licence shown")
        # the music of "a" again, re-cut, by the same uploader: a linked case
        again = _confirm(s, seed, "fixture", "a-recut", "T001", 16)
        assert again.previous_case_id == a.id
        c = _confirm(s, seed, "bilibili", "c", "T002", 16)
        _send(s, "bilibili", [c.id], 16)
        cases.apply(s, c.id, "counter_notice", actor="legal", at=_at(20, 18), basis="civil_code_1196",
                    received_at=_at(20))
        d = _confirm(s, seed, "bilibili", "d", "T001", 23)
        _send(s, "bilibili", [d.id], 23)
        cases.apply(s, d.id, "verify_removed", actor="recheck", at=_at(24, 18), check="410")
        cases.apply(s, d.id, "resolve", actor="legal", at=_at(25, 9))
        e = _confirm(s, seed, "bilibili", "e", "T003", 27)
        cases.apply(s, e.id, "withdraw", actor="legal", at=_at(28), reason="licence found")
        fp = seed.detection(s, platform="bilibili", media_id="fp", created_at=_at(11))
        review.reject(s, fp.id, actor="r", reason="different song", at=_at(11, 13))
        return {k: v.id for k, v in dict(a=a, b=b, again=again, c=c, d=d, e=e).items()}


def test_external_monitoring_section_complete(store, march):
    with store.session() as s:
        rep = report.monthly(s, "2026-03")
    fx, bl, tot = rep.platforms["fixture"], rep.platforms["bilibili"], rep.totals
    assert (tot["found"], tot["verified"], tot["notified"], tot["letters"]) == (7, 6, 4, 4)
    assert (tot["removed"], tot["resolved"], tot["pending"], tot["disputed"], tot["refused"],
            tot["withdrawn"]) == (1, 1, 1, 1, 1, 1)
    assert rep.sources["fixture"]["removed"] == [march["a"]] and rep.sources["bilibili"]["resolved"] == [march["d"]]
    assert rep.sources["fixture"]["refused"] == [march["b"]]      # the platform refused the notice
    assert rep.sources["fixture"]["reuploads"] == [march["again"]] and fx["reuploads"] == 1
    assert rep.letters_by_jurisdiction == {"CN": 3, "US": 1}
    # sent 3 Mar 12:00 -> removed 5 Mar 18:00 = 54 h; sent 23 Mar 12:00 -> removed 24 Mar 18:00 = 30 h
    assert rep.median_hours_on("fixture") == 54.0 and rep.median_hours_on("bilibili") == 30.0
    assert rep.median_hours_to_removal == 42.0 and bl["removed_in_month"] == 1
    assert rep.as_of == _at(31, 0) + timedelta(days=1)            # the month's end: one clock


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_shows_every_figure_and_its_records(store, march, tmp_path, lang):
    with store.session() as s:
        rep = report.monthly(s, "2026-03")
    files = report.write(rep, tmp_path)
    assert sorted(p.name for p in files) == sorted(f"report-2026-03-{x}.{e}" for x in ("zh", "en")
                                                   for e in ("md", "pdf"))
    pdf = tmp_path / f"report-2026-03-{lang}.pdf"
    lines = _pdf_lines(pdf)
    text = "\n".join(lines)
    words = report.WORDS[lang]
    for label in words["labels"].values():                        # every figure of the section
        assert label in text, label
    for heading in ("figures", "outcome_t", "removal_t", "letters_t", "chart_weekly", "chart_outcomes",
                    "annex_t"):
        assert words[heading].split("（")[0].split(" (")[0] in text, heading
    assert ("监测月报" if lang == "zh" else "Monitoring report") in text
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "(A4)" in info
    # the annex: every record behind every figure, each id whole on one line
    annex = "\n".join(lines[next(i for i, x in enumerate(lines) if x == words["annex_t"]):])
    annex_lines = annex.splitlines()
    for platform, row in rep.sources.items():
        for figure, ids in row.items():
            for rid in ids:
                assert any(rid in line for line in annex_lines), (figure, rid)
    for rid in {i for ids in rep.letters_by_jurisdiction_ids.values() for i in ids}:
        assert any(rid in line for line in annex_lines), rid
    md = (tmp_path / f"report-2026-03-{lang}.md").read_text("utf-8")
    assert f"| {words['labels']['reuploads']} | 0 | 1 | 1 |" in md


def test_one_clock_counts_nothing_after_it(store, march):
    """Counted at 20 March 00:00: what happened after it is not seen, by any figure."""
    clock = _at(20, 0)
    with store.session() as s:
        rep = report.monthly(s, "2026-03", as_of=clock)
    assert rep.as_of == clock
    assert rep.totals["verified"] == 4 and rep.totals["found"] == 5       # d, e and their detections later
    assert march["c"] in rep.sources["bilibili"]["pending"]               # its counter-notice came on the 20th
    assert rep.totals["letters"] == 3 and rep.totals["removed_in_month"] == 1
    with store.session() as s:
        with pytest.raises(Exception, match="outside 2026-03"):
            report.monthly(s, "2026-03", as_of=_at(1, 0) - timedelta(hours=1))
        with pytest.raises(Exception, match="in the future"):
            report.monthly(s, "2026-03", as_of=datetime.now(SH) + timedelta(days=1))


def test_a_report_that_does_not_add_up_is_not_written(store, march, tmp_path):
    with store.session() as s:
        rep = report.monthly(s, "2026-03")
    moved = rep.sources["fixture"]["pending"].pop()         # a case dropped from the outcomes
    rep.platforms["fixture"]["pending"] -= 1
    rep.totals["pending"] -= 1
    with pytest.raises(ReportInconsistent, match="outcomes do not partition"):
        report.write(rep, tmp_path / "out")
    assert not (tmp_path / "out").exists()                  # checked before anything is written
    rep.sources["fixture"]["pending"].append(moved)
    rep.platforms["fixture"]["pending"] += 1
    rep.totals["verified"] += 1                               # a total that is not the sum
    rep.totals["pending"] += 1
    with pytest.raises(ReportInconsistent, match="total"):
        report.write(rep, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_figures_must_name_existing_records(store, march):
    with store.session() as s:
        rep = report.monthly(s, "2026-03")
        rep.sources["fixture"]["found"].append("01NOSUCHDETECTION000000000")
        rep.platforms["fixture"]["found"] += 1
        rep.totals["found"] += 1
        rep.check()                                           # consistent with itself...
        with pytest.raises(ReportInconsistent, match="do not exist"):
            report.trace(s, rep)                              # ...but not with the records


def test_the_check_is_not_an_assert(tmp_path):
    """Under ``python -O`` (asserts stripped) the check still refuses."""
    code = ("from datetime import datetime, timezone\n"
            "from notices.report import Report, ReportInconsistent\n"
            "t = datetime(2026, 3, 1, tzinfo=timezone.utc)\n"
            "rep = Report('2026-03', 'UTC', t, t.replace(month=4), t.replace(day=2), platforms={'p': {}},"
            " sources={}, totals={})\n"
            "try:\n    rep.check()\nexcept ReportInconsistent as exc:\n    print('refused:', exc)\n")
    res = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("refused:")


def test_report_counts_a_resubmitted_case_once(store, seed):
    """Refused, resubmitted and sent again in the month: one case notified, two letters."""
    with store.session() as s:
        b = _confirm(s, seed, "fixture", "b", "T002", 9)
        _send(s, "fixture", [b.id], 10)
        cases.apply(s, b.id, "notice_rejected", actor="legal", at=_at(12, 9), answer="need title evidence")
        cases.apply(s, b.id, "resubmit", actor="legal", at=_at(13, 9), reason="title evidence attached")
        _send(s, "fixture", [b.id], 14)
        rep = report.monthly(s, "2026-03")
        assert (rep.totals["notified"], rep.totals["letters"]) == (1, 2)
        assert s.get(Case, b.id).state == "notice_sent" and rep.sources["fixture"]["pending"] == [b.id]


def test_a_long_list_of_records_fits_the_pages(store, seed, tmp_path):
    """80 cases in a figure: the annex spreads the ids over rows (a row taller than a page broke the PDF)."""
    with store.session() as s:
        for i in range(80):
            det = seed.detection(s, media_id=f"n{i}", created_at=_at(1 + i % 28, 9), seed=i % 5, screenshot=False)
            review.confirm(s, det.id, actor="r", at=_at(1 + i % 28, 10))
        rep = report.monthly(s, "2026-03")
    assert rep.totals["verified"] == 80
    report.write(rep, tmp_path, langs=("en",))
    lines = _pdf_lines(tmp_path / "report-2026-03-en.pdf")
    annex = lines[next(i for i, x in enumerate(lines) if x == report.WORDS["en"]["annex_t"]):]
    for rid in rep.ids("verified"):
        assert any(rid in line for line in annex), rid
