"""The web app's own records: reviewer accounts, login sessions, the audit log and review claims.

Sessions live in the store, not in a signed cookie, so they expire on the
server's clock, can be revoked (logout, disabled user) and carry the CSRF token
that every change must present. The cookie holds a random token; the table keeps
only its SHA-256, so a copy of the database opens no session.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import Base, utcnow

ROLES = ("analyst", "legal", "admin")


class User(Base):
    """A person who reviews detections (analyst), handles letters (legal) or runs the app (admin)."""

    __tablename__ = "webapp_users"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    sessions: Mapped[list["LoginSession"]] = relationship(back_populates="user")


class LoginSession(Base):
    """One logged-in browser: expires when idle too long or too old, whichever comes first."""

    __tablename__ = "webapp_sessions"
    __table_args__ = (Index("ix_webapp_sessions_user", "user_id"),)

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("webapp_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(back_populates="sessions")


class AuditEntry(Base):
    """One thing a person did or tried in the app: logins, failed logins, account changes, undo.

    Failed logins are also what the login throttle counts (per account and per
    address), so every worker process sees the same counts through the store.
    """

    __tablename__ = "webapp_audit"
    __table_args__ = (Index("ix_webapp_audit_action_at", "action", "at"),
                      Index("ix_webapp_audit_subject_at", "subject", "at"))

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(128))     # who was logged in (None: nobody yet)
    action: Mapped[str] = mapped_column(String(32))            # login, login_failed, role_changed, ...
    subject: Mapped[str | None] = mapped_column(String(128))   # the account or record acted on
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class Claim(Base):
    """An analyst working a detection: others see it taken until the claim lapses."""

    __tablename__ = "webapp_claims"

    detection_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
