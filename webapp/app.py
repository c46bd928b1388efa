"""The Flask application factory: store session per request, login, CSRF, roles.

Reads the ``webapp`` settings section:

* ``idle_minutes``, ``max_hours``: session expiry (idle and absolute);
* ``secure_cookies``: mark cookies Secure (behind HTTPS);
* ``cache_dir``: cut audio and pictures (relative to the data home);
* ``lead_in_s``, ``max_excerpt_s``: the review players' excerpts;
* ``page_size``: rows per queue page.

Every request except the login page and static files needs a live login
session; pages redirect to the login form, media and evidence answer 401.
Every POST must carry the session's CSRF token (form field ``csrf_token`` or
header ``X-CSRF-Token``), the login form a token bound to a pre-login cookie.
"""

from __future__ import annotations

import secrets
from datetime import timezone
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from earwitness.kernel import settings as ew_settings
from earwitness.kernel.store import Store, open_store
from webapp import auth
from webapp.services import Services

SESSION_COOKIE = "ew_session"
LOGIN_CSRF_COOKIE = "ew_login_csrf"
PUBLIC_ENDPOINTS = {"auth.login", "static", "health"}
# endpoints that serve files: refused with 401 (not redirected) without a session
FILE_PREFIXES = ("/media/", "/evidence/", "/notices/files/")
DEFAULTS: dict[str, Any] = {"idle_minutes": 60, "max_hours": 12, "secure_cookies": False,
                            "cache_dir": "webapp/cache", "lead_in_s": 1.0, "max_excerpt_s": 30.0,
                            "page_size": 50}
SHANGHAI = ZoneInfo("Asia/Shanghai")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def _config(section: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    conf = {**DEFAULTS, **dict(section), **dict(overrides or {})}
    for key in ("idle_minutes", "max_hours", "lead_in_s", "max_excerpt_s"):
        conf[key] = float(conf[key])
    conf["page_size"] = int(conf["page_size"])
    return conf


def create_app(store: Store | None = None, *, services: Services, config: Mapping[str, Any] | None = None) -> Flask:
    """The app over ``store`` (default: the configured store), with ``config`` overriding settings.

    ``services`` are the other stages' operations (review, cases, letters, ...), handed in by
    the application layer (:func:`earwitness.app.web.services`).
    """
    s = ew_settings.get()
    conf = _config(s.section("webapp"), config)
    store = store or open_store()
    app = Flask(__name__)
    app.config.update(EW=conf, EW_HOME=s.home, EW_CACHE=s.path(conf["cache_dir"]),
                      MAX_CONTENT_LENGTH=1 << 20, TEMPLATES_AUTO_RELOAD=False,
                      # Flask's signed cookie carries only flash messages
                      SESSION_COOKIE_NAME="ew_flash", SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=bool(conf["secure_cookies"]))
    app.secret_key = secrets.token_bytes(32)  # Flask's own session is not used; sessions live in the store
    app.extensions["earwitness_store"] = store
    app.extensions["earwitness_services"] = services

    @app.before_request
    def _open_and_authenticate():
        g.db_ctx = store.session()
        g.db = g.db_ctx.__enter__()
        g.login = auth.resume_session(g.db, request.cookies.get(SESSION_COOKIE),
                                      idle_minutes=conf["idle_minutes"])
        g.user = g.login.user if g.login else None
        # end the touch/expiry write now: a slow page (an ffmpeg cut) must not hold SQLite's write lock
        g.db.commit()
        if request.endpoint not in PUBLIC_ENDPOINTS and g.user is None:
            if request.path.startswith(FILE_PREFIXES) or request.method != "GET":
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
            expected = g.login.csrf_token if g.login else request.cookies.get(LOGIN_CSRF_COOKIE)
            if not auth.tokens_match(expected, given):
                abort(403, "CSRF token missing or wrong: reload the page and try again.")
        return None

    @app.after_request
    def _commit(response):
        ctx = g.pop("db_ctx", None)
        if ctx is not None:
            ctx.__exit__(None, None, None)  # commits; a failed commit becomes a 500
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # pages show text scraped from other sites: no inline script, nothing loaded from elsewhere
        response.headers.setdefault("Content-Security-Policy", CSP)
        if request.path.startswith("/media/"):
            # excerpts may sit in this browser's private cache (the prefetch needs it), revalidated each use
            response.headers["Cache-Control"] = "private, no-cache"
        elif g.get("user") is not None or request.path.startswith(FILE_PREFIXES):
            response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.teardown_request
    def _rollback(exc):
        ctx = g.pop("db_ctx", None)
        if ctx is not None:
            err = exc or RuntimeError("request ended without a response")
            ctx.__exit__(type(err), err, err.__traceback__)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith(FILE_PREFIXES) or exc.code == 401:
            return Response(f"{exc.code} {exc.name}: {exc.description}\n", exc.code, mimetype="text/plain")
        return render_template("error.html", code=exc.code, name=exc.name, description=exc.description), exc.code

    @app.get("/healthz", endpoint="health")
    def health():
        return {"ok": True}

    @app.context_processor
    def _globals():
        return {"user": g.get("user"), "can": lambda perm: auth.can(g.get("user"), perm),
                "csrf_field": _csrf_field, "csrf_token": g.login.csrf_token if g.get("login") else ""}

    app.jinja_env.filters["utc"] = _fmt_utc
    app.jinja_env.filters["cst"] = _fmt_shanghai
    app.jinja_env.filters["short"] = lambda s, n=10: (s or "")[:n]
    app.jinja_env.filters["web_url"] = _web_url

    from webapp.views import register
    register(app)
    return app


def _csrf_field() -> Markup:
    token = g.login.csrf_token if g.get("login") else g.get("login_csrf", "")
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % token


def _web_url(value: str | None) -> str:
    """A crawled URL fit for an href: http(s) only, so a scraped ``javascript:`` link is never clickable."""
    return value if value and value.lower().startswith(("http://", "https://")) else "#"


def _fmt_utc(value) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _fmt_shanghai(value) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M CST") if value else "—"


def cookie_args(app: Flask) -> dict[str, Any]:
    """The attributes every cookie of the app gets."""
    return {"httponly": True, "samesite": "Lax", "secure": bool(app.config["EW"]["secure_cookies"]),
            "path": "/"}


def home_path(relative: str | None) -> Path | None:
    """A path stored relative to the data home, made absolute (absolute paths stay)."""
    from flask import current_app
    if not relative:
        return None
    return Path(current_app.config["EW_HOME"]) / relative
