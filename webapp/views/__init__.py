"""Blueprints, one per page family; :func:`register` wires them all."""

from __future__ import annotations

from functools import wraps

from flask import Flask, abort, g


def require(permission: str):
    """Refuse (403) users whose role lacks ``permission`` (see :data:`webapp.auth.PERMISSIONS`)."""
    from webapp.auth import can

    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not can(g.get("user"), permission):
                abort(403, f"your role may not do this (needs permission {permission!r})")
            return view(*args, **kwargs)
        return wrapped
    return deco


def register(app: Flask) -> None:
    from webapp.views import auth, cases, live, media, notices, overview, review, sites, status, users
    for module in (auth, overview, review, media, cases, notices, users, sites, live, status):
        app.register_blueprint(module.bp)
