"""User management for admins: add, disable, enable, reset password."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from webapp import auth
from webapp.errors import UserError
from webapp.models import ROLES, User
from webapp.views import require

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.get("/")
@require("users")
def index():
    users = list(g.db.scalars(select(User).order_by(User.name)))
    return render_template("users.html", users=users, roles=ROLES)


@bp.post("/")
@require("users")
def add():
    try:
        user = auth.create_user(g.db, request.form.get("name", ""), role=request.form.get("role", ""),
                                password=request.form.get("password", ""))
        flash(f"Added {user.name} ({user.role}).", "ok")
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("users.index"))


@bp.post("/<name>/<action>")
@require("users")
def change(name: str, action: str):
    try:
        if action in ("disable", "enable"):
            if name == g.user.name and action == "disable":
                raise UserError("you cannot disable your own account")
            auth.set_active(g.db, name, action == "enable")
            flash(f"{name}: {action}d.", "ok")
        elif action == "password":
            auth.set_password(g.db, name, request.form.get("password", ""))
            flash(f"{name}: password changed; their sessions were ended.", "ok")
        else:
            raise UserError(f"unknown action {action!r}")
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("users.index"))
