"""End to end in real Chromium (Debian's, through Playwright) against the app on 127.0.0.1.

An analyst logs in, works the queue with the keyboard, listens through the
players, sees the alignment plot and confirms; legal drafts a letter, previews
and exports it. Screenshots go to ``tests/webapp/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from earwitness.kernel.store.models import Detection

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
        "--mute-audio"]
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page, base: str, name: str, password: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def _audio_state(page, element_id: str) -> dict:
    return page.eval_on_selector(f"#{element_id}", "a => ({ready: a.readyState, duration: a.duration, "
                                                   "paused: a.paused, t: a.currentTime, error: a.error && a.error.code})")


def _watch_errors(page) -> list[str]:
    """Collect script errors and console errors (CSP violations among them) seen by the page."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text} ({msg.location.get('url')})")
            if msg.type == "error" else None)
    return errors


def test_analyst_reviews_by_ear_and_eye_and_confirms(browser, server, seeded, users, store, home):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = _watch_errors(page)
    page.goto(server + "/")
    _shot(page, "01-login")
    _login(page, server, "ann", users["ann"])
    assert page.locator(".tile.pending b").inner_text() == "3"
    assert page.locator("svg.chart g.bar rect").count() == 2
    _shot(page, "02-overview")

    page.goto(server + "/review/?platform=fixture")
    assert page.locator("#queue tbody tr").count() == 2
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.locator("#queue tr.selected").get_attribute("data-id") == seeded.plain
    _shot(page, "03-queue")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/review/{seeded.plain}\?"))

    # all three players load real audio of the planned lengths; the plot is a real image
    for element_id, seconds in (("audio-clip", 9.0), ("audio-ref-transformed", 9.0), ("audio-ref", 9.0)):
        page.wait_for_function(f"() => document.getElementById('{element_id}').readyState >= 1", timeout=30000)
        state = _audio_state(page, element_id)
        assert state["error"] is None and state["duration"] == pytest.approx(seconds, abs=0.05), element_id
    page.wait_for_function("() => document.getElementById('alignment').complete", timeout=30000)
    assert page.eval_on_selector("#alignment", "i => i.naturalWidth") == 960
    assert page.eval_on_selector("#screenshot", "i => i.naturalWidth") == 480
    assert "dancer_01" in page.locator("#uploader").inner_text()

    # space plays the selected player (the clip), 2 switches to the transformed reference
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.getElementById('audio-clip').paused && "
                           "document.getElementById('audio-clip').currentTime > 0.2", timeout=15000)
    # the playhead on the alignment picture follows the clip: right of the axis, at the player's time
    page.wait_for_function("() => { const h = document.getElementById('playhead'); "
                           "return !h.hidden && Number(h.dataset.t) > 0.2; }", timeout=15000)
    geo = page.evaluate("() => { const i = document.getElementById('alignment'), h = document.getElementById('playhead'), "
                        "w = document.getElementById('alignment-wrap').dataset; return {x: parseFloat(h.style.left), "
                        "t: Number(h.dataset.t), scale: i.clientWidth / Number(w.width), d: Number(w.duration)}; }")
    expected = (56 + geo["t"] / geo["d"] * 894) * geo["scale"]
    assert geo["x"] == pytest.approx(expected, abs=1.0) and geo["x"] > 56 * geo["scale"]
    # the page capture opens at full size; the timeline bar marks where the work plays
    assert page.get_attribute("#screenshot-large", "target") == "_blank"
    assert page.locator("#clip-timeline rect.match").count() == 1
    page.keyboard.press("2")
    page.wait_for_function("() => document.getElementById('audio-clip').paused && "
                           "!document.getElementById('audio-ref-transformed').paused", timeout=15000)
    assert page.locator(".player.selected").get_attribute("data-key") == "2"
    page.keyboard.press("b")
    page.wait_for_function("() => !document.getElementById('audio-clip').paused && "
                           "!document.getElementById('audio-ref-transformed').paused", timeout=15000)
    page.keyboard.press("Space")
    _shot(page, "04-review")

    # the next detection's excerpts were prefetched (cut on the server) while this one was reviewed
    cache = home / "webapp" / "cache" / seeded.shifted
    deadline = time.monotonic() + 30
    while len(list(cache.glob("*.wav"))) < 3 or not list(cache.glob("alignment-*.png")):
        assert time.monotonic() < deadline, f"next detection not prefetched: {list(cache.glob('*'))}"
        time.sleep(0.2)

    # c confirms and moves on to the next detection in the filtered queue
    page.keyboard.press("c")
    page.wait_for_url(re.compile(rf"/review/{seeded.shifted}\?"))
    assert "Confirmed" in page.locator(".flash.ok").inner_text()
    with store.session() as s:
        det = s.get(Detection, seeded.plain)
        assert det.review_state == "confirmed" and det.reviewed_by == "ann"
    # the decision buttons are above the fold at 1400x900
    assert page.locator("#confirm").bounding_box()["y"] < 900 and page.locator("#reject").bounding_box()["y"] < 900
    # r focuses the fixed reasons; a note, then Enter submits the rejection
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reject-code"
    page.select_option("#reject-code", "different_work")
    page.fill("#reject-reason", "a different song with the same drum loop")
    page.press("#reject-reason", "Enter")
    page.wait_for_url(re.compile(r"/review/\?"))
    with store.session() as s:
        det = s.get(Detection, seeded.shifted)
        assert det.review_state == "rejected"
        assert det.review_reason == "different_work: a different song with the same drum loop"
    # the misclick is undone from the page the decision led to (u, or the button)
    assert seeded.shifted in page.locator("#undo-form").inner_text()
    page.click("#undo")
    page.wait_for_url(re.compile(rf"/review/{seeded.shifted}$"))
    assert "pending again" in page.locator(".flash.ok").inner_text()
    assert page.locator("#state").inner_text() == "pending"
    with store.session() as s:
        assert s.get(Detection, seeded.shifted).review_state == "pending"

    assert errors == [], "\n".join(errors)

    # a change sent without the CSRF token is refused, even from a logged-in page
    status = page.evaluate(f"""async () => (await fetch('/review/{seeded.other}/confirm',
        {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: 'reason=x'}})).status""")
    assert status == 403
    with store.session() as s:
        assert s.get(Detection, seeded.other).review_state == "pending"


    # evidence and media are refused to a browser without a session
    anonymous = browser.new_context()
    for path in (f"/media/detection/{seeded.plain}/clip.wav", f"/media/clip/{seeded.clip_ids['v1']}/screenshot"):
        r = anonymous.request.get(server + path)
        assert r.status == 401 and b"RIFF" not in r.body()
    anonymous.close()


def test_legal_drafts_previews_and_exports_a_letter(browser, server, seeded, users, store, tmp_path):
    notices_review = pytest.importorskip("notices.review")
    pytest.importorskip("notices.letters")
    with store.session() as s:
        case = notices_review.confirm(s, seeded.plain, actor="ann", reason="same melody")
        case_id = case.id
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _login(page, server, "lee", users["lee"])
    page.goto(server + f"/cases/{case_id}")
    assert page.locator("#case-state").inner_text() == "confirmed"
    _shot(page, "05-case-confirmed")
    page.goto(server + "/notices/")
    page.select_option("select[name=platform]", "fixture")
    page.select_option("select[name=lang]", "zh")
    page.click("#draft")
    page.wait_for_url(re.compile(r"/notices/[0-9a-z]{26}$"))
    preview = page.locator("#preview").inner_text()
    assert "侵权" in preview and "Neon Harbour" in preview and "http://127.0.0.1:9/fixture/video/v1" in preview
    _shot(page, "06-notice-preview")
    notice_id = page.url.rsplit("/", 1)[1]

    # export: each format downloads, and the file is the one whose hash the notice recorded
    pytest.importorskip("notices.export")
    for fmt, magic in (("pdf", b"%PDF"), ("docx", b"PK"), ("zip", b"PK")):
        with page.expect_download() as info:
            page.click(f"#export-{fmt}")
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
        assert target.read_bytes()[:len(magic)] == magic and target.suffix == f".{fmt}"
        with store.session() as s:
            from earwitness.kernel.store.case_models import Notice
            assert s.get(Notice, notice_id).files[target.name] == hashlib.sha256(target.read_bytes()).hexdigest()
    if shutil.which("pdftotext"):
        pdf = next(tmp_path.glob("*.pdf"))
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "侵权告知函" in text.replace(" ", "") and "Neon Harbour" in text
    page.goto(page.url)
    assert page.locator("#exported li").count() == 3

    # the case now shows the drafted state, its evidence bundle with hashes and the ledger status
    page.goto(server + f"/cases/{case_id}")
    assert page.locator("#case-state").inner_text() == "notice_drafted"
    assert "ledger verified" in page.locator("#ledger-status").inner_text()
    assert page.locator("table.evidence code.hash").count() >= 2
    _shot(page, "07-case-drafted")

    # recording the letter as sent moves the case; nothing was sent by the app
    page.goto(server + f"/notices/{notice_id}")
    page.fill("#send-form input[name=channel]", "email")
    page.click("#send-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/notices/{notice_id}$"))
    assert page.locator("#notice-state").inner_text() == "sent"
    page.goto(server + f"/cases/{case_id}")
    assert page.locator("#case-state").inner_text() == "notice_sent"
    events = set(page.locator("#actions form[data-event]").evaluate_all("fs => fs.map(f => f.dataset.event)"))
    from notices import lifecycle
    assert events == set(lifecycle.events_from("notice_sent")) - set(lifecycle.LETTER_ONLY)
    _shot(page, "08-case-sent")

    # a counter-notice under 电子商务法 Art. 43, received at a given time: 15 days to the deadline
    form = page.locator('#actions form[data-event="counter_notice"]')
    form.locator("select[name=basis]").select_option("ecommerce_art43")
    received = datetime.now(timezone.utc).replace(second=0, microsecond=0)   # not in the future
    form.locator("input[name=received_at]").fill(received.strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=reason]").fill("uploader claims a licence")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    assert page.locator("#case-state").inner_text() == "disputed", page.locator(".flash").all_inner_texts()
    from notices import calendars      # 15 days by 民法典 Art. 201/203: the next day on, to 24:00 Beijing
    deadline = calendars.period("ecommerce_art43", received, {"ecommerce_art43_days": 15}).ends_at \
        .astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    assert deadline in page.locator("table.kv").first.inner_text()
    assert "uploader claims a licence" in page.locator("#timeline").inner_text()
    _shot(page, "09-case-disputed")
    with store.session() as s:
        from earwitness.kernel.store.case_models import Case
        case = s.get(Case, case_id)
        assert case.state == "disputed" and case.dispute_basis == "ecommerce_art43"
