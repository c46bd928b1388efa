"""Re-check against a real local HTTP server, and the monthly report's arithmetic on a seeded month."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest

from crawler.recheck import ProbeResult
from earwitness.kernel.store.models import utcnow
from notices import cases, jobs, letters, recheck, report, review
from earwitness.kernel.store.case_models import Case

from tests.notices.conftest import T0


def http_probe(url: str, platform: str, audio_path: str | None = None) -> ProbeResult:
    """A probe with the crawler's signature, over real HTTP."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return ProbeResult(url, platform, False, "still_up", resp.status, utcnow(), audio_path=audio_path)
    except urllib.error.HTTPError as exc:
        gone = exc.code in (404, 410, 451)
        return ProbeResult(url, platform, gone, f"http_{exc.code}" if gone else "error", exc.code, utcnow())
    except urllib.error.URLError as exc:
        return ProbeResult(url, platform, False, "error", None, utcnow(), detail=str(exc))


def _sent_case(s, seed, base, media_id, sent_at=T0):
    det = seed.detection(s, media_id=media_id)
    case = review.confirm(s, det.id, actor="r")
    case.url = f"{base}/video/{media_id}"
    notice = letters.draft(s, platform="fixture", actor="legal", case_ids=[case.id])
    letters.approve(s, notice.id, actor="legal")
    letters.mark_sent(s, notice.id, actor="legal", channel="email", recipient="x", sent_at=sent_at)
    return case.id


def test_recheck_moves_gone_items_and_marks_overdue(store, seed, site, home, monkeypatch):
    from earwitness.kernel import settings
    # one "gone" answer suffices here; the repeated, spaced rule is in test_recheck_walls.py
    monkeypatch.setenv("EARWITNESS__NOTICES__REMOVAL_CONFIRMATIONS", "1")
    monkeypatch.setenv("EARWITNESS__NOTICES__REMOVAL_SPAN_HOURS", "0")
    settings.configure(home)
    base, status = site
    status.update({"v404": 404, "v410": 410, "v500": 500})
    with store.session() as s:
        ids = {m: _sent_case(s, seed, base, m) for m in ("v404", "v410", "v200", "v500")}
    now = T0 + timedelta(days=4)
    res = recheck.recheck_due(store, probe=http_probe, now=now)
    counts = ("checked", "removed", "still_up", "errors", "overdue", "gone_pending", "failed")
    assert {k: res.as_dict()[k] for k in counts} == {"checked": 4, "removed": 2, "still_up": 1, "errors": 1,
                                                      "overdue": 2, "gone_pending": 0, "failed": 0}
    assert res.as_dict()["status"] == "partial"          # the 500 taught nothing about its item
    with store.session() as s:
        c404, c410, c200, c500 = (s.get(Case, ids[m]) for m in ("v404", "v410", "v200", "v500"))
        assert (c404.state, c410.state, c200.state, c500.state) == \
            ("removed", "removed", "notice_sent", "notice_sent")
        ev = c404.events[-1]
        assert ev.event == "verify_removed" and ev.actor == "recheck"
        assert ev.details["check"]["http_status"] == 404 and ev.details["check"]["reason"] == "http_404"
        assert c200.events[-1].event == "recheck" and c200.events[-1].details["overdue"] is True
        assert c200.is_overdue(now) and not c404.is_overdue(now)
        assert [c.id for c in cases.list_cases(s, overdue=True, now=now)] == [c200.id, c500.id]
    # nothing is due again until the interval has passed
    assert recheck.recheck_due(store, probe=http_probe, now=now + timedelta(hours=1)).checked == 0
    status["v200"] = 410
    res = recheck.recheck_due(store, probe=http_probe, now=now + timedelta(hours=13))
    assert (res.checked, res.removed) == (2, 1)


def test_audio_that_no_longer_matches_counts_as_removed(store, seed, site, home):
    base, _ = site
    with store.session() as s:
        cid = _sent_case(s, seed, base, "muted")
        audio = s.get(Case, cid).detections[0].clip.media_path
    seen = []

    def check(case, path):
        seen.append((case.id, path))
        return False          # the matcher no longer finds the work in the re-fetched audio

    res = recheck.recheck_due(store, probe=lambda u, p: http_probe(u, p, audio_path=audio),
                              audio_check=check, now=T0 + timedelta(days=1))
    assert res.removed == 1 and seen == [(cid, home / audio)]
    with store.session() as s:
        assert s.get(Case, cid).events[-1].details["check"]["reason"] == "audio_no_longer_matches"


def _at(day: int, hour: int = 12) -> datetime:
    """A time in March 2026, Beijing time."""
    from zoneinfo import ZoneInfo
    return datetime(2026, 3, day, hour, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_monthly_report_arithmetic(store, seed, tmp_path):
    """A seeded March 2026: every figure checked by hand."""
    with store.session() as s:
        def case(platform, media, work, day, events=()):
            det = seed.detection(s, platform=platform, media_id=media, work_id=work, created_at=_at(day, 9))
            c = review.confirm(s, det.id, actor="r", at=_at(day, 10))
            for name, d, kw in events:
                if name == "sent":
                    n = letters.draft(s, platform=platform, actor="legal", case_ids=[c.id], now=_at(d, 11))
                    letters.approve(s, n.id, actor="legal")
                    letters.mark_sent(s, n.id, actor="legal", channel="email", recipient="x",
                                      sent_at=_at(d, 12), at=_at(d, 12))
                else:
                    cases.apply(s, c.id, name, actor="legal", at=_at(d, 18), **kw)
            return c

        # a case opened on Sunday 1 March (a one-day first week), still confirmed at the end
        assert case("fixture", "first", "T001", 1, []).opened_at == _at(1, 10)
        # fixture: 3 more verified in March
        case("fixture", "a", "T001", 2, [("sent", 3, {}), ("verify_removed", 5, {"check": "404"})])
        case("fixture", "b", "T001", 9, [("sent", 10, {})])
        case("fixture", "c", "T002", 30, [("withdraw", 31, {"reason": "licensed"})])
        # bilibili: 2 verified
        case("bilibili", "d", "T002", 16, [("sent", 16, {}), ("counter_notice", 20,
                                                              {"basis": "civil_code_1196", "received_at": _at(20)})])
        case("bilibili", "e", "T001", 23, [("sent", 23, {}), ("verify_removed", 24, {"check": "410"}),
                                           ("resolve", 25, {}), ("close", 26, {})])
        # a rejected false positive, and one detection after the month
        fp = seed.detection(s, platform="bilibili", media_id="fp", created_at=_at(11))
        review.reject(s, fp.id, actor="r", reason="different song", at=_at(11, 13))
        seed.detection(s, platform="fixture", media_id="april", created_at=_at(31, 23) + timedelta(hours=2))
    with store.session() as s:
        rep = report.monthly(s, "2026-03")
    fx, bl, tot = rep.platforms["fixture"], rep.platforms["bilibili"], rep.totals
    assert fx["verified"] == 4 and bl["verified"] == 2 and tot["verified"] == 6
    assert (fx["removed"], fx["resolved"], fx["pending"], fx["disputed"], fx["withdrawn"]) == (1, 0, 2, 0, 1)
    assert (bl["removed"], bl["resolved"], bl["pending"], bl["disputed"], bl["withdrawn"]) == (0, 1, 0, 1, 0)
    assert fx["found"] == 4 and bl["found"] == 3 and tot["found"] == 7      # the April one excluded
    assert (tot["reviewed"], tot["rejected"]) == (7, 1)
    assert (fx["notified"], bl["notified"], tot["letters"]) == (2, 2, 4)
    assert rep.letters_by_jurisdiction == {"CN": 4}            # both platforms' letters under Chinese law
    assert tot["removed_in_month"] == 2
    # sent 3 Mar 12:00 -> removed 5 Mar 18:00 = 54 h; sent 23 Mar 12:00 -> removed 24 Mar 18:00 = 30 h
    assert sorted(rep.removal_hours) == [30.0, 54.0] and rep.median_hours_to_removal == 42.0
    assert fx["pending_at_end"] == 2 and tot["pending_at_end"] == 2
    assert fx["overdue_at_end"] == 1          # "b": sent 10 March, SLA 3 days, still up
    assert [w["verified"] for w in rep.weekly] == [1, 1, 1, 1, 1, 1]
    assert [w["removed"] for w in rep.weekly] == [0, 1, 0, 0, 1, 0]
    assert rep.weekly[0]["week_start"] == "2026-03-01" and rep.weekly[1]["week_start"] == "2026-03-02"
    assert rep.top_works[0] == {"work_id": "T001", "title": "Neon River", "artist": "Lin Qiao", "cases": 4}
    assert rep.top_works[1]["cases"] == 2
    md_zh, pdf_zh, md, pdf = report.write(rep, tmp_path)
    text = md.read_text("utf-8")
    assert "| Outcome | bilibili | fixture | Total |" in text
    assert "| removed | 0 (0.0%) | 1 (25.0%) | 1 (16.7%) |" in text
    assert "| resolved | 1 (50.0%) | 0 (0.0%) | 1 (16.7%) |" in text
    assert "| CN | 4 | 100.0% |" in text
    assert "| False positives rejected | 1 | 14.3% |" in text
    assert "42.0 h (1.8 days)" in text
    import subprocess
    pdf_text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Most infringed works" in pdf_text and "Neon River" in pdf_text
    zh_text = subprocess.run(["pdftotext", str(pdf_zh), "-"], capture_output=True, text=True, check=True).stdout
    assert "监测月报" in zh_text and "被侵权最多的作品" in zh_text and "Neon River" in zh_text


def test_report_bad_month():
    from notices.exceptions import NoticesError
    with pytest.raises(NoticesError, match="YYYY-MM"):
        report.month_bounds("March")


def test_jobs(store, seed, monkeypatch, home, site):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__NOTICES__AUTO_CONFIRM__ENABLED", "true")
    settings.configure(home)
    with store.session() as s:
        seed.detection(s, score=97.0)
        seed.detection(s, score=14.0)
    counts = lambda r, *keys: {k: r[k] for k in ("status", *keys)}  # noqa: E731
    assert counts(jobs.capture_evidence(store), "auto_confirmed", "bundled", "failed") == \
        {"status": "ok", "auto_confirmed": 1, "bundled": 1, "failed": 0}
    assert counts(jobs.capture_evidence(store), "auto_confirmed", "bundled", "failed") == \
        {"status": "ok", "auto_confirmed": 0, "bundled": 0, "failed": 0}
    assert counts(jobs.draft_notices(store), "drafted", "cases", "refused") == \
        {"status": "ok", "drafted": 1, "cases": 1, "refused": 0}
    assert counts(jobs.draft_notices(store), "drafted", "cases", "refused") == \
        {"status": "ok", "drafted": 0, "cases": 0, "refused": 0}
    with store.session() as s:
        assert all(c.state == "notice_drafted" for c in s.query(Case))   # never sent by a job
    assert jobs.recheck(store, probe=http_probe)["checked"] == 0
    from zoneinfo import ZoneInfo
    out = jobs.monthly_report(store, month=utcnow().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m"))
    assert out["cases"] == 1 and len(out["files"]) == 4     # zh and en, Markdown and PDF
