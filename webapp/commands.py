"""``earwitness users``: manage the review app's accounts (``earwitness serve`` is in :mod:`earwitness.app.web`)."""

from __future__ import annotations

import sys

import click

from earwitness.kernel import output



@click.group()
def users() -> None:
    """Accounts of the review app: analyst (reviews), legal (cases, letters), admin (everything, users)."""


def _password_tools():
    """The password policy and hasher the ``webapp`` settings describe (as the app uses them)."""
    from earwitness.kernel import settings
    from webapp.app import password_tools, read_config
    return password_tools(read_config(settings.get().section("webapp"), None))


def _password(password_stdin: bool, confirm: bool = True) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)


@users.command("add")
@click.argument("name")
@click.option("--role", "-r", required=True, type=click.Choice(["analyst", "legal", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def add(name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME with a role; the password is prompted for (or read from stdin)."""
    from earwitness.kernel.store import open_store
    from webapp import auth
    from webapp.errors import UserError
    password = _password(password_stdin)
    try:
        with open_store().session() as s:
            policy, hasher = _password_tools()
            user = auth.create_user(s, name, role=role, password=password, policy=policy, hasher=hasher)
            click.echo(f"added {user.name} ({user.role})")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc


USER_COLUMNS = [
    output.Column("name", "name"), output.Column("role", "role"),
    output.Column("active", "state", lambda v: "active" if v else "disabled"),
    output.Column("last_login_at", "last login", lambda v: (v or "-")[:19].replace("T", " ")),
]


@users.command("list")
@output.list_options
def list_(fmt: str) -> None:
    """List accounts: name, role, active or disabled, last login (UTC)."""
    from sqlalchemy import select

    from earwitness.kernel.store import open_store
    from webapp.models import User
    with open_store().session() as s:
        rows = [{"name": u.name, "role": u.role, "active": u.active,
                 "last_login_at": u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else None}
                for u in s.scalars(select(User).order_by(User.name))]
    output.print_list(rows, USER_COLUMNS, fmt, noun="account(s)")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def passwd(name: str, password_stdin: bool) -> None:
    """Set NAME's password; their open sessions end."""
    from earwitness.kernel.store import open_store
    from webapp import auth
    from webapp.errors import UserError
    password = _password(password_stdin)
    try:
        with open_store().session() as s:
            policy, hasher = _password_tools()
            auth.set_password(s, name, password, policy=policy, hasher=hasher)
        click.echo(f"password of {name} changed")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc


@users.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable NAME's account and end their sessions."""
    from earwitness.kernel.store import open_store
    from webapp import auth
    from webapp.errors import UserError
    try:
        with open_store().session() as s:
            auth.set_active(s, name, False)
        click.echo(f"{name} disabled")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
