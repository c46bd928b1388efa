"""Review for volume in real Chromium (Debian's, through Playwright) against the app on 127.0.0.1:
a bulk confirm of 50 detections and its undo, search and grouping, a form that outlives its session,
an admin changing a role and reading the audit log, one's own password, a 400 for an odd page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from earwitness.kernel.store.case_models import Case
from earwitness.kernel.store.models import Detection
from tests.webapp.conftest import add_detections
from tests.webapp.test_browser import _login, _shot, _watch_errors, browser  # noqa: F401  (fixture)
from tests.webapp.test_serving import serve  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def test_bulk_confirm_of_50_and_undo(browser, server, seeded, users, store):  # noqa: F811
    ids = add_detections(store, 60, uploaders=("crew_1", "crew_2"))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = _watch_errors(page)
    _login(page, server, "ann", users["ann"])
    # search narrows the queue; grouping by uploader counts each one's detections
    page.goto(server + "/review/")
    page.fill("#search", "bulk clip 0004")
    page.press("#search", "Enter")
    page.wait_for_url(re.compile(r"q=bulk"))
    assert page.locator("#queue tbody tr[data-id]").count() == 10
    page.goto(server + "/review/?platform=bulkplat&group=uploader")
    assert page.locator("#groups tbody tr").count() == 2
    assert page.locator('#groups tr[data-key="crew_1"] td.n').first.inner_text() == "30"
    # sort by score, tick every row of a 50-row page, confirm them all
    page.goto(server + "/review/?platform=bulkplat")
    page.select_option("#sort", "score")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"sort=score"))
    assert page.locator("#queue tbody tr[data-id]").count() == 50
    page.check("#select-page")
    assert page.locator("#queue input.pick:checked").count() == 50
    chosen = page.locator("#queue tbody tr[data-id]").evaluate_all("rs => rs.map(r => r.dataset.id)")
    _shot(page, "10-bulk-selected")
    page.click("#bulk-confirm")
    page.wait_for_url(server + "/review/bulk")
    assert page.locator("#bulk-summary").inner_text() == "50 done"
    _shot(page, "11-bulk-done")
    with store.session() as s:
        states = {s.get(Detection, i).review_state for i in chosen}
        assert states == {"confirmed"}
        assert s.scalar(select(Case).where(Case.state == "confirmed").limit(1)) is not None
        rest = set(ids) - set(chosen)
        assert {s.get(Detection, i).review_state for i in rest} == {"pending"}
    # one click undoes all fifty: back to pending, their cases withdrawn, an audit entry
    page.click("#undo-all")
    page.wait_for_url(server + "/review/bulk")
    assert page.locator("#bulk-summary").inner_text() == "50 done"
    with store.session() as s:
        assert {s.get(Detection, i).review_state for i in chosen} == {"pending"}
        assert {c.state for c in s.scalars(select(Case))} == {"closed"}
    assert errors == [], "\n".join(errors)
    page.close()
    admin = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(admin, server, "ada", users["ada"])
    admin.goto(server + "/users/audit")
    log = admin.locator("#audit").inner_text()
    assert "bulk_confirm" in log and "bulk_reopen" in log and "50 detections" in log


def test_a_rejection_typed_after_the_session_ended_is_kept(browser, server, seeded, users, store):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(page, server, "ann", users["ann"])
    page.goto(server + f"/review/{seeded.other}")
    from webapp.models import LoginSession
    with store.session() as s:                      # the analyst went to lunch
        for login in s.scalars(select(LoginSession)):
            login.last_seen_at = datetime.now(timezone.utc) - timedelta(hours=3)
    typed = "a field recording of a street band, no catalogue music"
    page.select_option("#reject-code", "not_music")
    page.fill("#reject-reason", typed)
    page.click("#reject")
    page.wait_for_selector("#resubmit-note")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", users["ann"])
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#resubmit")
    assert typed in page.locator("#resubmit").inner_text()
    _shot(page, "12-resubmit")
    page.click("#resubmit button[type=submit]")
    page.wait_for_load_state()
    with store.session() as s:
        det = s.get(Detection, seeded.other)
        assert det.review_state == "rejected" and det.review_reason == f"not_music: {typed}"


def test_admin_changes_a_role_and_a_user_their_password(browser, server, seeded, users, store):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(page, server, "ada", users["ada"])
    page.goto(server + "/users/")
    row = page.locator('#users tr[data-user="lee"]')
    row.locator("select[name=role]").select_option("analyst")
    row.locator("form.role button").click()
    page.wait_for_url(server + "/users/")
    assert "role legal → analyst" in page.locator(".flash.ok").inner_text()
    # a common password is refused with the reason
    page.fill("#add-user input[name=name]", "newbie")
    page.fill("#add-user input[name=password]", "password1234")
    page.click("#add-user button[type=submit]")
    assert "common password" in page.locator(".flash.error").inner_text()
    page.goto(server + "/users/audit?action=role_changed")
    assert "legal -> analyst" in page.locator("#audit").inner_text()
    # an odd page number is a 400 with a message, not a server error
    r = page.goto(server + "/review/?page=9223372036854775807")
    assert r.status == 400 and "page" in page.locator("main").inner_text()
    # lee changes their own password
    lee = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(lee, server, "lee", users["lee"])
    lee.click("#account")
    lee.fill("input[name=current_password]", users["lee"])
    lee.fill("input[name=new_password]", "violet-anchor-31")
    lee.fill("input[name=new_password_again]", "violet-anchor-31")
    lee.click("#change-password button[type=submit]")
    assert "Password changed" in lee.locator(".flash.ok").inner_text()
    from webapp import auth
    with store.session() as s:
        assert auth.authenticate(s, "lee", "violet-anchor-31") is not None
        assert auth.get_user(s, "lee").role == "analyst"


def test_on_gunicorn_workers_messages_survive_and_guessing_is_throttled(browser, serve, users):  # noqa: F811
    """Chromium against `earwitness serve` with 3 workers: every flash message arrives, whichever
    worker signed it; five wrong passwords lock the account even for the right one."""
    base = serve(workers=3)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(page, base, "ada", users["ada"])
    for i in range(8):
        page.goto(base + "/users/")
        page.fill("#add-user input[name=name]", f"weak{i}")
        page.fill("#add-user input[name=password]", "qwertyuiop12")
        page.click("#add-user button[type=submit]")
        page.wait_for_url(base + "/users/")
        assert "password refused" in page.locator(".flash.error").inner_text(), f"round {i}"
    guesser = browser.new_page()
    for i in range(5):
        guesser.goto(base + "/login")
        guesser.fill("input[name=name]", "ann")
        guesser.fill("input[name=password]", f"guess-{i}-password")
        guesser.click("form.login button[type=submit]")
        assert "Unknown user or wrong password" in guesser.locator(".flash.error").inner_text()
    guesser.goto(base + "/login")
    guesser.fill("input[name=name]", "ann")
    guesser.fill("input[name=password]", users["ann"])
    guesser.click("form.login button[type=submit]")
    assert "too many failed logins for this account" in guesser.locator(".flash.error").inner_text()
    page.goto(base + "/users/audit?action=login_failed")
    assert page.locator("#audit tbody tr.login_failed").count() == 5
