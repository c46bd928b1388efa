"""Login, sessions, roles and CSRF against the app served on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from earwitness.kernel.store.models import Detection
from webapp.models import LoginSession, User


def test_pages_redirect_to_login_and_files_are_refused_without_session(client, seeded, users):
    r = client.get("/review/")
    assert r.status == 302 and r.headers["Location"].startswith("/login?next=/review/")
    for path in (f"/media/detection/{seeded.plain}/clip.wav",
                 f"/media/detection/{seeded.plain}/alignment.png",
                 f"/media/clip/{seeded.clip_ids['v1']}/screenshot",
                 "/evidence/anything/metadata.json",
                 "/notices/files/x/letter.pdf"):
        r = client.get(path)
        assert r.status == 401, path
        assert b"RIFF" not in r.body and b"PNG" not in r.body


def test_login_sets_httponly_session_and_stores_only_hashes(client, users, store):
    r = client.login("ann", users["ann"])
    assert r.status == 302 and r.headers["Location"] == "/"
    set_cookie = [v for k, v in r.headers.items() if k.lower() == "set-cookie" and v.startswith("ew_session=")]
    assert set_cookie and "HttpOnly" in set_cookie[0] and "SameSite=Lax" in set_cookie[0]
    token = set_cookie[0].split(";")[0].split("=", 1)[1]
    with store.session() as s:
        user = s.scalar(select(User).where(User.name == "ann"))
        assert user.password_hash.startswith("scrypt:") and users["ann"] not in user.password_hash
        rows = list(s.scalars(select(LoginSession)))
        assert len(rows) == 1 and rows[0].token_sha256 != token and token not in rows[0].csrf_token
    assert client.get("/").status == 200


def test_wrong_password_and_unknown_user_are_refused_alike(client, users):
    for name, pw in (("ann", "wrong-password"), ("nobody", "whatever-123")):
        r = client.login(name, pw)
        assert r.status == 401 and "Unknown user or wrong password" in r.text
        assert client.get("/").status == 302


def test_login_without_csrf_token_is_refused(client, users):
    client.get("/login")
    r = client.post("/login", {"name": "ann", "password": users["ann"]})
    assert r.status == 403
    assert client.get("/").status == 302


def test_change_without_csrf_token_is_refused_and_changes_nothing(client, seeded, users, store):
    client.login("ann", users["ann"])
    for data, headers in (({"reason": "sounds the same"}, {}),
                          ({"reason": "x", "csrf_token": "forged"}, {}),
                          ({"reason": "x"}, {"X-CSRF-Token": "forged"})):
        r = client.post(f"/review/{seeded.plain}/confirm", data, headers=headers)
        assert r.status == 403 and "CSRF" in r.text
    with store.session() as s:
        assert s.get(Detection, seeded.plain).review_state == "pending"


@pytest.mark.parametrize("field,delta", [("expires_at", timedelta(seconds=-1)),
                                         ("last_seen_at", timedelta(minutes=-61))])
def test_expired_or_idle_session_is_refused_and_deleted(client, users, store, field, delta):
    client.login("ann", users["ann"])
    assert client.get("/").status == 200
    with store.session() as s:
        row = s.scalar(select(LoginSession))
        setattr(row, field, datetime.now(timezone.utc) + delta)
    r = client.get("/")
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    with store.session() as s:
        assert s.scalar(select(LoginSession)) is None


def test_logout_ends_the_session_on_the_server(client, users, server, new_client):
    client.login("ann", users["ann"])
    stolen = new_client()
    for cookie in client.jar:
        stolen.jar.set_cookie(cookie)
    token = client.csrf("/")
    assert client.post("/logout", {"csrf_token": token}).status == 302
    assert stolen.get("/").status == 302


def test_roles_gate_actions(client, seeded, users, server, new_client):
    client.login("ann", users["ann"])
    assert client.get("/users/").status == 403
    legal = new_client()
    legal.login("lee", users["lee"])
    token = legal.csrf("/")
    r = legal.post(f"/review/{seeded.plain}/confirm", {"csrf_token": token})
    assert r.status == 403
    admin = new_client()
    admin.login("ada", users["ada"])
    assert admin.get("/users/").status == 200


def test_disabled_user_loses_sessions_and_cannot_log_in(client, users, store, server, new_client):
    client.login("ann", users["ann"])
    admin = new_client()
    admin.login("ada", users["ada"])
    token = admin.csrf("/users/")
    assert admin.post("/users/ann/disable", {"csrf_token": token}).status == 302
    assert client.get("/").status == 302
    assert client.login("ann", users["ann"]).status == 401


def test_login_next_never_leaves_the_site(client, users):
    token = client.csrf("/login")
    r = client.post("/login", {"name": "ann", "password": users["ann"], "csrf_token": token,
                               "next": "//evil.example/steal"})
    assert r.status == 302 and r.headers["Location"] == "/"


def test_auth_rules_on_bad_input(store):
    from webapp import auth
    from webapp.errors import UserError
    with store.session() as s:
        with pytest.raises(UserError, match="unknown role"):
            auth.create_user(s, "bob", role="boss", password="cobalt-ferry-47")
        with pytest.raises(UserError, match="at least 12"):
            auth.create_user(s, "bob", role="analyst", password="short")
        for bad in ("bob smith", "a/b", "", "x" * 129):
            with pytest.raises(UserError, match="no spaces"):
                auth.create_user(s, bad, role="analyst", password="cobalt-ferry-47")
        auth.create_user(s, "bob", role="analyst", password="cobalt-ferry-47")
        with pytest.raises(UserError, match="already exists"):
            auth.create_user(s, "bob", role="legal", password="cobalt-ferry-47")


def test_admin_adds_a_user_from_the_page_and_analysts_cannot(client, users, server, new_client):
    client.login("ada", users["ada"])
    token = client.csrf("/users/")
    r = client.post("/users/", {"csrf_token": token, "name": "newbie", "role": "analyst", "password": "fresh-password"})
    assert r.status == 302
    page = client.get("/users/").text
    assert "Added newbie (analyst)" in page and "<td>newbie</td>" in page
    r = client.post("/users/", {"csrf_token": token, "name": "newbie", "role": "analyst", "password": "fresh-password"})
    assert "already exists" in client.get(r.headers["Location"]).text
    newbie = new_client()
    assert newbie.login("newbie", "fresh-password").status == 302
    token = newbie.csrf("/")
    assert newbie.post("/users/", {"csrf_token": token, "name": "x", "role": "admin", "password": "sneaky-pass"}).status == 403
