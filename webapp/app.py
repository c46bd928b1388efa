"""The Flask application factory: store session per request, login, CSRF, roles.

Reads the ``webapp`` settings section:

* ``idle_minutes``, ``max_hours``: session expiry (idle and absolute);
* ``secure_cookies``: mark cookies Secure (behind HTTPS);
* ``cache_dir``: cut audio and pictures (relative to the data home);
* ``lead_in_s``, ``max_excerpt_s``: the review players' excerpts;
* ``page_size``: rows per list page;
* ``secret_key`` / ``secret_key_file``: the key signing Flask's flash cookie, the same in
  every worker process (:func:`webapp.secrets_file.load_or_create`);
* ``proxy_count``: reverse proxies in front whose ``X-Forwarded-*`` headers are trusted;
* ``hsts_seconds``: Strict-Transport-Security max-age, sent when ``secure_cookies`` is on;
* ``login_throttle``, ``password``: login limits and the password policy (:mod:`webapp.passwords`);
* ``claim_minutes``: how long opening a detection reserves it for its reviewer.

Every request except the login page and static files needs a live login
session; pages redirect to the login form, media and evidence answer 401. A form
posted after the session ended gets the login form, which carries the posted
fields and, once logged in, offers them again (:mod:`webapp.views.auth`).
Every POST must carry the session's CSRF token (form field ``csrf_token`` or
header ``X-CSRF-Token``), the login form a token bound to a pre-login cookie.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from earwitness.kernel import settings as ew_settings
from earwitness.kernel.store import Store, open_store
from webapp import auth, secrets_file
from webapp.passwords import Hasher, Policy
from webapp.services import Services

SESSION_COOKIE = "ew_session"
LOGIN_CSRF_COOKIE = "ew_login_csrf"
PUBLIC_ENDPOINTS = {"auth.login", "static", "health"}
# endpoints that serve files: refused with 401 (not redirected) without a session
FILE_PREFIXES = ("/media/", "/evidence/", "/notices/files/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def read_config(section: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The app's settings: the validated ``webapp`` section (every key there, defaults in
    ``config/webapp.yaml``) with ``overrides`` on top (nested sections key by key)."""
    section, overrides = dict(section), dict(overrides or {})
    conf = {**section, **overrides}
    for key in ("login_throttle", "password"):   # nested sections: an override replaces single keys
        conf[key] = {**dict(section[key]), **dict(overrides.get(key) or {})}
    for key in ("idle_minutes", "max_hours", "lead_in_s", "max_excerpt_s"):
        conf[key] = float(conf[key])
    conf["page_size"] = int(conf["page_size"])
    conf["proxy_count"] = int(conf["proxy_count"] or 0)
    conf["claim_minutes"] = float(conf["claim_minutes"])
    return conf


def password_tools(conf: Mapping[str, Any]) -> tuple[Policy, Hasher]:
    """The password policy and the bounded hasher the ``password`` settings describe."""
    pw = conf["password"]
    return (Policy(min_length=pw["min_length"], min_strength=pw["min_strength"]),
            Hasher(max_concurrent=pw["max_concurrent_checks"], wait_s=pw["check_wait_s"]))


def create_app(store: Store | None = None, *, services: Services, config: Mapping[str, Any] | None = None) -> Flask:
    """The app over ``store`` (default: the configured store), with ``config`` overriding settings.

    ``services`` are the other stages' operations (review, cases, letters, ...), handed in by
    the application layer (:func:`earwitness.app.web.services`).
    """
    s = ew_settings.get()
    conf = read_config(s.section("webapp"), config)
    store = store or open_store()
    app = Flask(__name__)
    app.config.update(EW=conf, EW_HOME=s.home, EW_CACHE=s.path(conf["cache_dir"]),
                      MAX_CONTENT_LENGTH=1 << 20, TEMPLATES_AUTO_RELOAD=False,
                      # Flask's signed cookie carries only flash messages
                      SESSION_COOKIE_NAME="ew_flash", SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=bool(conf["secure_cookies"]))
    # Flask's signed cookie carries only flash messages; login sessions live in the store. The key
    # must be the same in every worker, or a message signed by one is dropped by the next.
    app.secret_key = secrets_file.load_or_create(conf["secret_key"], s.path(conf["secret_key_file"]))
    if conf["proxy_count"] > 0:
        n = conf["proxy_count"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    policy, hasher = password_tools(conf)
    app.extensions["earwitness_passwords"] = (policy, hasher)
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
            if request.path.startswith(FILE_PREFIXES) or request.method not in ("GET", "POST"):
                abort(401)
            if request.endpoint == "auth.logout":
                return redirect(url_for("auth.login"))
            if request.method == "POST":
                from webapp.views.auth import login_to_resubmit
                return login_to_resubmit()
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
        if conf["secure_cookies"] and conf["hsts_seconds"]:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={int(conf['hsts_seconds'])}")
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
    return value.astimezone(ew_settings.get().local_zone).strftime("%Y-%m-%d %H:%M %Z") if value else "—"


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
