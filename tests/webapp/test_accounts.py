"""Accounts that resist abuse, over HTTP on 127.0.0.1: throttling per account and per address,
bounded scrypt checks, the password policy, one's own password, role changes, the audit log,
and a form posted after the session ended that survives a new login."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from earwitness.kernel.store.models import Detection


def _wrong(client, name: str, n: int) -> list[int]:
    return [client.login(name, f"wrong-password-{i}").status for i in range(n)]


def test_wrong_passwords_then_the_right_one_is_throttled_per_account(client, new_client, users, app, store):
    app.config["EW"]["login_throttle"].update(per_account=5, per_address=1000)
    assert _wrong(client, "ann", 5) == [401] * 5
    r = client.login("ann", users["ann"])                    # the right password, too late
    assert r.status == 429 and "too many failed logins for this account" in r.text
    assert int(r.headers["Retry-After"]) == 15 * 60
    # another account from the same address is not affected
    assert new_client().login("lee", users["lee"]).status == 302
    from webapp.models import AuditEntry
    with store.session() as s:
        fails = s.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed")).all()
        assert [e.subject for e in fails] == ["ann"] * 5 and all(e.remote_addr == "127.0.0.1" for e in fails)
        assert s.scalar(select(AuditEntry.subject).where(AuditEntry.action == "login_throttled")) == "ann"


def test_throttle_per_address_across_names(client, users, app):
    app.config["EW"]["login_throttle"].update(per_account=100, per_address=4)
    assert _wrong(client, "nobody-1", 2) + _wrong(client, "nobody-2", 2) == [401] * 4
    r = client.login("ada", users["ada"])
    assert r.status == 429 and "from this address" in r.text


def test_a_good_login_resets_the_account_count(client, new_client, users, app):
    app.config["EW"]["login_throttle"].update(per_account=3, per_address=1000)
    assert _wrong(client, "ann", 2) == [401, 401]
    assert new_client().login("ann", users["ann"]).status == 302
    assert _wrong(client, "ann", 3) == [401, 401, 401]      # counted from the last good login
    assert _wrong(client, "ann", 1) == [429]


def test_password_checks_are_bounded_and_busy_is_reported(monkeypatch):
    from webapp import passwords
    running, peak, lock = [0], [0], threading.Lock()
    real = passwords.check_password_hash

    def counted(stored, given):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.05)
            return real(stored, given)
        finally:
            with lock:
                running[0] -= 1
    monkeypatch.setattr(passwords, "check_password_hash", counted)
    hasher = passwords.Hasher(max_concurrent=2, wait_s=30)
    stored = hasher.hash("cobalt-ferry-47")
    results = []
    threads = [threading.Thread(target=lambda: results.append(hasher.check(stored, "cobalt-ferry-47")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8 and peak[0] == 2
    impatient = passwords.Hasher(max_concurrent=1, wait_s=0.05)
    with impatient._slot():
        with pytest.raises(passwords.Busy, match="try again"):
            impatient.check(stored, "x")


@pytest.mark.parametrize("password, why", [("aaaaaaaaaaaa", "Repeats"), ("password1234", "common"),
                                           ("short-1", "at least 12"), ("qwertyuiop12", "strength")])
def test_password_policy_refuses_short_and_common(client, users, store, password, why):
    client.login("ada", users["ada"])
    token = client.csrf("/users/")
    r = client.post("/users/", {"csrf_token": token, "name": "boss2", "role": "admin", "password": password})
    assert why in client.get(r.headers["Location"]).text
    from webapp.models import User
    with store.session() as s:
        assert s.scalar(select(User).where(User.name == "boss2")) is None


def test_change_own_password_ends_other_sessions(client, new_client, users, store):
    other = new_client()
    other.login("ann", users["ann"])
    client.login("ann", users["ann"])
    token = client.csrf("/account")
    r = client.post("/account", {"csrf_token": token, "current_password": "not-it", "new_password": "maple-orbit-816",
                                 "new_password_again": "maple-orbit-816"})
    assert "current password is wrong" in client.get(r.headers["Location"] if r.status == 302 else "/account").text \
        or "current password is wrong" in r.text
    r = client.post("/account", {"csrf_token": token, "current_password": users["ann"],
                                 "new_password": "maple-orbit-816", "new_password_again": "maple-orbit-816"})
    assert "Password changed" in client.get(r.headers["Location"]).text      # this session goes on
    assert other.get("/review/").status == 302                                # the other one ended
    assert new_client().login("ann", "maple-orbit-816").status == 302
    assert new_client().login("ann", users["ann"]).status == 401


def test_admin_changes_a_role_and_the_audit_log_shows_it(client, new_client, users, store):
    ann = new_client()
    ann.login("ann", users["ann"])
    client.login("ada", users["ada"])
    token = client.csrf("/users/")
    r = client.post("/users/ann/role", {"csrf_token": token, "role": "legal"})
    assert "role analyst → legal" in client.get(r.headers["Location"]).text
    assert ann.get("/").status == 302                                          # re-login with the new rights
    r = client.post("/users/ada/role", {"csrf_token": token, "role": "analyst"})
    assert "cannot change your own role" in client.get(r.headers["Location"]).text
    client.post("/users/lee/disable", {"csrf_token": token})
    log = client.get("/users/audit").text
    assert "role_changed" in log and "analyst -&gt; legal" in log and "user_disabled" in log
    assert re.search(r'<tr class="login"><td>[^<]+</td><td>login</td><td>ada</td>', log)
    # not for other roles
    lee = new_client()
    lee.login("lee", users["lee"])
    assert lee.get("/users/audit").status == 302 or lee.get("/users/audit").status == 403


def test_a_post_after_expiry_logs_in_again_and_keeps_what_was_typed(client, seeded, users, store):
    from webapp.models import LoginSession
    client.login("ann", users["ann"])
    token = client.csrf(f"/review/{seeded.other}")
    with store.session() as s:
        for login in s.scalars(select(LoginSession)):
            login.last_seen_at = datetime.now(timezone.utc) - timedelta(hours=3)
    typed = "the hook is a sample from a 1970s record, not the catalogue work"
    r = client.post(f"/review/{seeded.other}/reject", {"csrf_token": token, "reason_code": "other", "reason": typed})
    assert r.status == 401 and "Your session ended before this was sent" in r.text
    assert typed in r.text and f'name="resubmit_to" value="/review/{seeded.other}/reject"' in r.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text))
    fields.update(name="ann", password=users["ann"])
    again = client.post("/login", fields)
    assert again.status == 200 and 'id="resubmit"' in again.text and typed in again.text
    with store.session() as s:
        assert s.get(Detection, seeded.other).review_state == "pending"      # nothing sent without asking
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', again.text))
    r = client.post(f"/review/{seeded.other}/reject", form)
    assert r.status == 302
    with store.session() as s:
        det = s.get(Detection, seeded.other)
        assert det.review_state == "rejected" and det.review_reason == f"other: {typed}"


def test_logout_after_expiry_just_goes_to_the_login(client, users, store):
    from webapp.models import LoginSession
    client.login("ann", users["ann"])
    token = client.csrf("/")
    with store.session() as s:
        for login in s.scalars(select(LoginSession)):
            login.last_seen_at = datetime.now(timezone.utc) - timedelta(hours=3)
    r = client.post("/logout", {"csrf_token": token})
    assert r.status == 302 and r.headers["Location"] == "/login"
