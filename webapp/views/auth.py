"""Login and logout."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, make_response, redirect, render_template, request, url_for

from webapp import auth
from webapp.app import LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie_args

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the user elsewhere."""
    if not target:
        return url_for("overview.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("overview.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    conf = current_app.config["EW"]
    error = None
    if request.method == "POST":
        user = auth.authenticate(g.db, request.form.get("name", ""), request.form.get("password", ""))
        if user is not None:
            auth.purge_expired(g.db, idle_minutes=conf["idle_minutes"])
            token, _ = auth.start_session(g.db, user, max_hours=conf["max_hours"],
                                          idle_minutes=conf["idle_minutes"], remote_addr=request.remote_addr)
            resp = redirect(_safe_next(request.form.get("next")))
            resp.set_cookie(SESSION_COOKIE, token, max_age=int(conf["max_hours"] * 3600), **cookie_args(current_app))
            resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
            return resp
        error = "Unknown user or wrong password."
    if g.user is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    g.login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    resp = make_response(render_template("login.html", error=error,
                                         next=request.values.get("next", "")), 401 if error else 200)
    resp.set_cookie(LOGIN_CSRF_COOKIE, g.login_csrf, max_age=3600, **cookie_args(current_app))
    return resp


@bp.post("/logout")
def logout():
    auth.end_session(g.db, request.cookies.get(SESSION_COOKIE))
    resp = redirect(url_for("auth.login"))
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp
