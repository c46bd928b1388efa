"""Accounts, login sessions, roles and CSRF tokens.

Passwords are stored as scrypt hashes, computed by a :class:`~webapp.passwords.Hasher`
(bounded concurrency) and checked against a :class:`~webapp.passwords.Policy`.
A login creates a :class:`~webapp.models.LoginSession` whose random token goes
into an HttpOnly cookie; the server keeps only the token's SHA-256, the expiry
(idle and absolute, ``webapp.idle_minutes`` / ``webapp.max_hours``) and the
session's CSRF token. Every state-changing request must echo that CSRF token in
a form field ``csrf_token`` or an ``X-CSRF-Token`` header.

Roles: ``analyst`` reviews detections; ``legal`` works cases and letters;
``admin`` may do everything and manages users.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from webapp.errors import UserError
from webapp.models import ROLES, LoginSession, User
from webapp.passwords import DEFAULT_HASHER, DEFAULT_POLICY, Hasher, Policy
NAME_RE = re.compile(r"[A-Za-z0-9._@-]{1,128}")

# permission -> roles holding it; the templates and the views ask `can(user, perm)`
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "review": frozenset({"analyst", "admin"}),
    "cases": frozenset({"legal", "admin"}),
    "notices": frozenset({"legal", "admin"}),
    "note": frozenset(ROLES),
    "users": frozenset({"admin"}),
}

# a hash to check against when the user does not exist, so timing says nothing
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")


def can(user: User | None, permission: str) -> bool:
    """Whether ``user``'s role holds ``permission`` (see :data:`PERMISSIONS`)."""
    return bool(user and user.active and user.role in PERMISSIONS[permission])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, name: str, *, role: str, password: str, policy: Policy = DEFAULT_POLICY,
                hasher: Hasher = DEFAULT_HASHER) -> User:
    """Add an account; the password must pass ``policy`` and is kept only as a scrypt hash."""
    name = (name or "").strip()
    if not NAME_RE.fullmatch(name):
        raise UserError(f"user name {name!r} must be 1-128 letters, digits or . _ @ - (no spaces)")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} already exists")
    policy.check(password, user_inputs=(name, role))
    user = User(name=name, role=role, password_hash=hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str, *, policy: Policy = DEFAULT_POLICY,
                 hasher: Hasher = DEFAULT_HASHER, keep_session: str | None = None) -> User:
    """Replace a user's password and end their sessions (all but ``keep_session``, a token hash)."""
    user = get_user(session, name)
    policy.check(password, user_inputs=(name, user.role))
    user.password_hash = hasher.hash(password)
    q = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_session:
        q = q.where(LoginSession.token_sha256 != keep_session)
    session.execute(q)
    return user


def set_role(session: Session, name: str, role: str) -> tuple[User, str]:
    """Change a user's role; returns the user and the old role. Their sessions end (new rights, new login)."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    user = get_user(session, name)
    old = user.role
    if old == role:
        raise UserError(f"{name} is already {role}")
    user.role = role
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    return user, old


def set_active(session: Session, name: str, active: bool) -> User:
    """Enable or disable an account; disabling ends its sessions at once."""
    user = get_user(session, name)
    user.active = active
    if not active:
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == (name or "").strip()))


def authenticate(session: Session, name: str, password: str, *, hasher: Hasher = DEFAULT_HASHER) -> User | None:
    """The active user with this name and password, or None (same work either way).

    Raises :class:`webapp.passwords.Busy` when too many checks run at once.
    """
    user = find_user(session, name)
    if user is None:
        hasher.check(_DUMMY_HASH, password or "")
        return None
    if not hasher.check(user.password_hash, password or "") or not user.active:
        return None
    return user


def start_session(session: Session, user: User, *, max_hours: float, idle_minutes: float,
                  remote_addr: str | None = None) -> tuple[str, LoginSession]:
    """Open a login session; returns the cookie token (never stored) and the record."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    login = LoginSession(token_sha256=token_hash(token), user_id=user.id,
                         csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                         expires_at=now + timedelta(hours=max_hours), remote_addr=remote_addr)
    user.last_login_at = now
    session.add(login)
    session.flush()
    return token, login


def resume_session(session: Session, token: str | None, *, idle_minutes: float) -> LoginSession | None:
    """The live session for a cookie token, touched; None if unknown, expired or idle too long.

    An expired session is deleted on sight.
    """
    if not token:
        return None
    login = session.get(LoginSession, token_hash(token))
    if login is None:
        return None
    now = datetime.now(timezone.utc)
    if (now >= login.expires_at or now - login.last_seen_at > timedelta(minutes=idle_minutes)
            or not login.user.active):
        session.delete(login)
        return None
    # touch at most once a minute: one write per page would serialize readers on SQLite
    if now - login.last_seen_at > timedelta(minutes=1):
        login.last_seen_at = now
    return login


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(LoginSession).where(LoginSession.token_sha256 == token_hash(token)))


def purge_expired(session: Session, *, idle_minutes: float) -> int:
    """Delete sessions past their absolute or idle expiry; returns how many."""
    now = datetime.now(timezone.utc)
    result = session.execute(delete(LoginSession).where(
        (LoginSession.expires_at <= now)
        | (LoginSession.last_seen_at < now - timedelta(minutes=idle_minutes))))
    return result.rowcount or 0


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two CSRF tokens; empty never matches."""
    return bool(expected and given) and hmac.compare_digest(expected.encode(), given.encode())
