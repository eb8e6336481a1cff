"""Organisations, branches and users. Every object in FinEdge belongs to an org; the permission
helper (backend/platform/permissions.py) compares the caller's org with the object's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.identity.rules import ORG_KINDS
from backend.platform.db import Base, BigIntPK, JSONType

__all__ = ["ORG_KINDS", "Branch", "LoginAddress", "LoginFailure", "Org", "User", "WxSignup"]


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    branch_id: Mapped[str | None] = mapped_column(String(20))
    wx_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped whenever the user's tokens must stop working at once (disabled, role, org or
    # branch changed, password reset): a token carries the version it was issued at ("ver")
    # and every request and Socket.IO connect compares it (backend/identity/sessions.py).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # When the version was last bumped: web instances re-check their live sockets against the
    # users revoked since their last look (one indexed range read, backend/roles/live_revocation)
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]


class LoginFailure(Base):
    """One failed login; counted in a sliding window per account and per address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class LoginAddress(Base):
    """An address the account last logged in from successfully: the account-wide back-off
    (failures from every address) does not hold it back, so failures sent from elsewhere do
    not lock a user out of their usual address (the per-address back-off still applies)."""

    __tablename__ = "login_addresses"
    __table_args__ = (UniqueConstraint("username", "address"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    last_success_at: Mapped[datetime]


class WxSignup(Base):
    """A client account that mini-program login created, and the address it came from: new
    accounts are limited per address and (with the demo's fake provider) overall."""

    __tablename__ = "wx_signups"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class Branch(Base):
    """A bank branch (网点): its id (e.g. BR001) names its MQTT topics. Its opening hours are
    local times of the hall's time zone (``BranchHall.timezone``, the branch area's), by weekday:
    ``{"mon": [["09:00", "17:00"]], ...}``; a day not listed is closed."""

    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    opening_hours: Mapped[dict | None] = mapped_column(JSONType)
