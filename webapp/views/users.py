"""User management for admins (add, disable, enable, reset password, change role) and the audit log.

Every change here is written to the audit log (:mod:`webapp.audit`) in the same
transaction, with the admin who made it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from webapp import audit, auth
from webapp.errors import UserError
from webapp.models import ROLES, User
from webapp.params import Params
from webapp.passwords import Busy
from webapp.views import require

bp = Blueprint("users", __name__, url_prefix="/users")


def _record(action: str, subject: str, detail: str | None = None) -> None:
    audit.record(g.db, action, actor=g.user.name, subject=subject, remote_addr=request.remote_addr, detail=detail)


@bp.get("/")
@require("users")
def index():
    users = list(g.db.scalars(select(User).order_by(User.name)))
    return render_template("users.html", users=users, roles=ROLES)


@bp.post("/")
@require("users")
def add():
    policy, hasher = current_app.extensions["earwitness_passwords"]
    try:
        user = auth.create_user(g.db, request.form.get("name", ""), role=request.form.get("role", ""),
                                password=request.form.get("password", ""), policy=policy, hasher=hasher)
        _record("user_added", user.name, f"role {user.role}")
        flash(f"Added {user.name} ({user.role}).", "ok")
    except (UserError, Busy) as exc:
        g.db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("users.index"))


@bp.post("/<name>/<action>")
@require("users")
def change(name: str, action: str):
    policy, hasher = current_app.extensions["earwitness_passwords"]
    try:
        if action in ("disable", "enable"):
            if name == g.user.name and action == "disable":
                raise UserError("you cannot disable your own account")
            auth.set_active(g.db, name, action == "enable")
            _record(f"user_{action}d", name)
            flash(f"{name}: {action}d.", "ok")
        elif action == "password":
            auth.set_password(g.db, name, request.form.get("password", ""), policy=policy, hasher=hasher)
            _record("password_reset", name)
            flash(f"{name}: password changed; their sessions were ended.", "ok")
        elif action == "role":
            if name == g.user.name:
                raise UserError("you cannot change your own role (another admin can)")
            user, old = auth.set_role(g.db, name, request.form.get("role", ""))
            _record("role_changed", name, f"{old} -> {user.role}")
            flash(f"{name}: role {old} → {user.role}; their sessions were ended.", "ok")
        else:
            raise UserError(f"unknown action {action!r}")
    except (UserError, Busy) as exc:
        g.db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("users.index"))


@bp.get("/audit")
@require("users")
def audit_log():
    """Logins, failed logins, throttled attempts, account changes, reopened decisions: newest first."""
    p = Params(request.args)
    action = p.choice("action", [""] + audit.actions(g.db), default="")
    actor = p.text("actor")
    size = current_app.config["EW"]["page_size"]
    page = p.page()
    p.raise_errors()
    rows, total = audit.page(g.db, action=action or None, actor=actor or None, limit=size,
                             offset=(page - 1) * size)
    return render_template("audit.html", rows=rows, total=total, page=page, size=size,
                           actions=audit.actions(g.db), args=p.args())
