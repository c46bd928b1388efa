"""Login, logout, one's own password, and getting back a form posted after the session ended.

Logins are throttled per account name and per address by counting the failures
the audit log holds (:mod:`webapp.audit`): every worker process sees the same
counts. Password checks wait for a slot (:class:`webapp.passwords.Hasher`); when
none frees up the answer is 503 "busy", never a pile of 32 MiB scrypt runs.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, url_for

from webapp import audit, auth
from webapp.app import LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie_args
from webapp.errors import UserError
from webapp.passwords import Busy

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the user elsewhere."""
    if not target:
        return url_for("overview.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("overview.index")
    return target


def _resubmit_fields(form) -> list[tuple[str, str]]:
    """A posted form's fields to carry through a new login (never the stale CSRF token)."""
    return [(k, v) for k, v in form.items(multi=True)
            if k != "csrf_token" and not k.startswith("resubmit_")][:500]


def _login_page(*, error: str | None = None, status: int = 200, resubmit: dict | None = None,
                retry_after: int | None = None):
    g.login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    resp = make_response(render_template("login.html", error=error, next=request.values.get("next", ""),
                                         resubmit=resubmit), status)
    resp.set_cookie(LOGIN_CSRF_COOKIE, g.login_csrf, max_age=3600, **cookie_args(current_app))
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def login_to_resubmit():
    """A POST without a live session: the login form, carrying what was posted (401)."""
    return _login_page(status=401, resubmit={"to": request.path, "fields": _resubmit_fields(request.form)})


def _throttled(name: str, addr: str | None) -> str | None:
    """Why this login attempt is refused before the password is even checked, or None."""
    limits = current_app.config["EW"]["login_throttle"]
    window = float(limits["window_minutes"])
    known = auth.find_user(g.db, name)
    per_account = audit.failures(g.db, window_minutes=window, subject=name,
                                 since=known.last_login_at if known else None)
    if per_account >= int(limits["per_account"]):
        return f"too many failed logins for this account; try again in {window:g} minutes"
    if addr and audit.failures(g.db, window_minutes=window, remote_addr=addr) >= int(limits["per_address"]):
        return f"too many failed logins from this address; try again in {window:g} minutes"
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    conf = current_app.config["EW"]
    if request.method == "GET":
        if g.user is not None:
            return redirect(_safe_next(request.args.get("next")))
        return _login_page()
    name = (request.form.get("name") or "").strip()[:128]
    addr = request.remote_addr
    resubmit_to = request.form.get("resubmit_to")
    resubmit = ({"to": _safe_next(resubmit_to), "fields": _resubmit_fields(request.form)}
                if resubmit_to else None)
    refused = _throttled(name, addr)
    if refused:
        audit.record(g.db, "login_throttled", actor=None, subject=name, remote_addr=addr, detail=refused)
        return _login_page(error=f"Not checked: {refused}.", status=429, resubmit=resubmit,
                           retry_after=int(float(conf["login_throttle"]["window_minutes"]) * 60))
    try:
        user = auth.authenticate(g.db, name, request.form.get("password", ""),
                                 hasher=current_app.extensions["earwitness_passwords"][1])
    except Busy as exc:
        return _login_page(error=f"Not checked: the server is busy ({exc}).", status=503, resubmit=resubmit,
                           retry_after=5)
    if user is None:
        audit.record(g.db, audit.LOGIN_FAILED, actor=None, subject=name, remote_addr=addr)
        return _login_page(error="Unknown user or wrong password.", status=401, resubmit=resubmit)
    auth.purge_expired(g.db, idle_minutes=conf["idle_minutes"])
    token, g.login = auth.start_session(g.db, user, max_hours=conf["max_hours"],
                                        idle_minutes=conf["idle_minutes"], remote_addr=addr)
    g.user = user
    audit.record(g.db, "login", actor=user.name, subject=user.name, remote_addr=addr)
    if resubmit is not None:
        # the form that met the expired session, shown again with this session's CSRF token
        resp = make_response(render_template("resubmit.html", resubmit=resubmit))
    else:
        resp = redirect(_safe_next(request.form.get("next")))
    resp.set_cookie(SESSION_COOKIE, token, max_age=int(conf["max_hours"] * 3600), **cookie_args(current_app))
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@bp.post("/logout")
def logout():
    auth.end_session(g.db, request.cookies.get(SESSION_COOKIE))
    audit.record(g.db, "logout", actor=g.user.name, subject=g.user.name, remote_addr=request.remote_addr)
    resp = redirect(url_for("auth.login"))
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@bp.route("/account", methods=["GET", "POST"])
def account():
    """Change one's own password (the current one is asked again); other sessions end."""
    if request.method == "POST":
        policy, hasher = current_app.extensions["earwitness_passwords"]
        new = request.form.get("new_password", "")
        try:
            if new != request.form.get("new_password_again", ""):
                raise UserError("the two new passwords differ")
            if auth.authenticate(g.db, g.user.name, request.form.get("current_password", ""),
                                 hasher=hasher) is None:
                audit.record(g.db, audit.LOGIN_FAILED, actor=g.user.name, subject=g.user.name,
                             remote_addr=request.remote_addr, detail="wrong current password on /account")
                g.db.commit()
                raise UserError("the current password is wrong")
            auth.set_password(g.db, g.user.name, new, policy=policy, hasher=hasher,
                              keep_session=g.login.token_sha256)
            audit.record(g.db, "password_changed", actor=g.user.name, subject=g.user.name,
                         remote_addr=request.remote_addr)
            flash("Password changed; your other sessions were ended.", "ok")
            return redirect(url_for("auth.account"))
        except Busy as exc:
            flash(f"Not changed: the server is busy ({exc}).", "error")
        except UserError as exc:
            g.db.rollback()
            flash(f"Not changed: {exc}", "error")
    return render_template("account.html")
