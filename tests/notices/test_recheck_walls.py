"""The re-check only writes "removed" on repeated, spaced "gone" answers; walls never move a case.

The probe is the crawler's real one (yt-dlp, the failure taxonomy, the kept page) against a
misbehaving platform on 127.0.0.1 whose pages can be switched between a bot wall, a sign-in
wall, a 410 and a normal page.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from earwitness.kernel.store.case_models import Case
from notices import recheck, review, letters
from tests.notices.conftest import T0, send_letter

PAGES = {
    "wall": (200, b"<!doctype html><html><head><title>Security check</title></head>"
                  b"<body>Sign in to confirm you're not a bot</body></html>"),
    "login": (200, b"<!doctype html><html><head><title>Log in</title></head>"
                   b"<body>Please log in first to continue</body></html>"),
    "gone": (410, b"<!doctype html><html><head><title>Gone</title></head>"
                  b"<body>This video has been removed</body></html>"),
}


@pytest.fixture
def platform():
    """/video/<id> answers whatever ``state[id]`` names in PAGES."""
    state: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, body = PAGES[state.get(self.path.rsplit("/", 1)[-1], "wall")]
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def _sent_case(s, seed, url):
    det = seed.detection(s, media_id=url.rsplit("/", 1)[-1])
    case = review.confirm(s, det.id, actor="r")
    case.url = url
    send_letter(s, letters.draft(s, platform="fixture", actor="legal", case_ids=[case.id]))
    return case.id


def _probe(url, platform):
    from crawler.recheck import probe
    return probe(url, platform)


def test_walls_five_times_leave_a_sent_case_sent(store, seed, platform, home):
    base, state = platform
    state.update({"a": "wall"})
    with store.session() as s:
        cid = _sent_case(s, seed, f"{base}/video/a")
    for i in range(5):
        if i == 3:
            state["a"] = "login"
        res = recheck.recheck_due(store, probe=_probe, now=T0 + timedelta(days=1, hours=13 * i))
        assert (res.checked, res.removed, res.errors) == (1, 0, 1)
    with store.session() as s:
        case = s.get(Case, cid)
        assert case.state == "notice_sent" and case.removed_at is None
        checks = [e.details["check"] for e in case.events if e.event == "recheck"]
        assert [c["outcome"] for c in checks] == ["blocked"] * 3 + ["needs_login"] * 2
        assert {c["reason"] for c in checks} == {"bot_check", "login_required"}
        for c in checks:    # every probe kept: the page the platform answered with
            assert (home / c["page_path"]).read_bytes().startswith(b"<!doctype html>")
        assert not any(e.event == "verify_removed" for e in case.events)


def test_gone_spaced_as_configured_marks_removed_with_each_probe(store, seed, platform, home):
    """removal_confirmations 2, removal_span_hours 24 (config/notices.yaml): a 410 at day 1 and
    at day 1 + 13 h is not enough (13 h apart); a wall in between neither counts nor breaks
    the run; the third 410 at day 2 + 2 h is, and the removal cites every gone answer."""
    base, state = platform
    state["b"] = "gone"
    with store.session() as s:
        cid = _sent_case(s, seed, f"{base}/video/b")
    day1 = T0 + timedelta(days=1)
    first = recheck.recheck_due(store, probe=_probe, now=day1)
    assert (first.removed, first.gone_pending) == (0, 1)
    second = recheck.recheck_due(store, probe=_probe, now=day1 + timedelta(hours=13))
    assert (second.removed, second.gone_pending) == (0, 1)
    state["b"] = "wall"
    wall = recheck.recheck_due(store, probe=_probe, now=day1 + timedelta(hours=26))
    assert (wall.removed, wall.errors) == (0, 1)
    with store.session() as s:
        assert s.get(Case, cid).state == "notice_sent"
    state["b"] = "gone"
    third = recheck.recheck_due(store, probe=_probe, now=day1 + timedelta(hours=39))
    assert third.removed == 1
    with store.session() as s:
        case = s.get(Case, cid)
        assert case.state == "removed"
        removal = case.events[-1]
        assert removal.event == "verify_removed"
        run = removal.details["check"]["gone_run"]
        assert [r["reason"] for r in run] == ["http_410"] * 3
        assert all(r["page_sha256"] for r in run)
        probes = [e for e in case.events if e.event == "recheck"]
        assert [p.details["check"]["outcome"] for p in probes] == ["gone", "gone", "blocked"]


def test_a_still_up_answer_starts_the_count_again(store, seed, platform):
    from crawler.recheck import ProbeResult
    from earwitness.kernel.store.models import utcnow
    answers = iter(["gone", "up", "gone", "gone"])

    def probe(url, platform):
        kind = next(answers)
        return ProbeResult(url, platform, kind == "gone", "http_404" if kind == "gone" else "still_up",
                           404 if kind == "gone" else 200, utcnow(), outcome=kind)

    base, _ = platform
    with store.session() as s:
        cid = _sent_case(s, seed, f"{base}/video/c")
    at = T0 + timedelta(days=1)
    removed = [recheck.recheck_due(store, probe=probe, now=at + timedelta(hours=25 * i)).removed for i in range(4)]
    assert removed == [0, 0, 0, 1]      # gone, up (count restarts), gone (1 of 2), gone 25 h later
    with store.session() as s:
        assert s.get(Case, cid).state == "removed"
