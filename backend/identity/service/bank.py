"""The bank's first steps in production (``finedge bootstrap``): its org and its first admin.

Idempotent: run again it changes nothing and says so; an existing admin's password is never
overwritten (an admin resets passwords: ``finedge users reset-password``). No demo data."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity import rules
from backend.identity.models import Org, User
from backend.identity.service.orgs import add_org
from backend.identity.service.users import create_user
from backend.platform.context import SYSTEM
from backend.platform.errors import Conflict


def bootstrap_bank(
    session: Session,
    *,
    org_code: str,
    org_name: str,
    username: str,
    password: Callable[[], str],
) -> dict[str, str]:
    """The bank org ``org_code`` and its admin ``username``; ``password()`` is asked only when
    the admin is made. Returns what happened to each: ``created`` or ``exists``."""
    rules.check_code(org_code, "org_code", 40)
    report: dict[str, str] = {}
    org = session.scalar(select(Org).where(Org.code == org_code))
    if org is None:
        org = add_org(session, SYSTEM, org_code, rules.check_name(org_name), "bank", None)
        report["org"] = "created"
    elif org.kind != "bank":
        raise Conflict(f"org {org_code!r} exists and is a {org.kind} org", code="org_exists")
    else:
        report["org"] = "exists"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        create_user(session, SYSTEM, username=username, password=password(), role="admin", org=org)
        report["admin"] = "created"
    elif user.role != "admin" or user.org_id != org.id:
        raise Conflict(
            f"user {username!r} exists and is not an admin of {org_code}", code="user_exists"
        )
    else:
        report["admin"] = "exists"
    return report
