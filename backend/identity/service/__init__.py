"""Identity use cases (the write side): orgs, branches, users and their rights, logins with
lock-outs, the bank's bootstrap. Plain functions ``(session, actor, ...)`` that raise
``backend.platform.errors``, audit every change and never commit."""

from __future__ import annotations

from backend.identity.models import ORG_KINDS, Branch, LoginFailure, Org, User
from backend.identity.service.bank import bootstrap_bank
from backend.identity.service.branches import (
    create_branch,
    get_branch,
    get_or_create_branch,
    update_branch,
)
from backend.identity.service.logins import (
    authenticate,
    record_login_failure,
    unlock,
    wx_login,
)
from backend.identity.service.orgs import (
    create_org,
    get_or_create_org,
    get_org,
    org_by_code,
    update_org,
)
from backend.identity.service.users import (
    REVOKED_EVENT,
    actor_for,
    change_user,
    create_user,
    get_user,
    reset_password,
    set_active,
    user_by_name,
)

__all__ = [
    "ORG_KINDS",
    "REVOKED_EVENT",
    "Branch",
    "LoginFailure",
    "Org",
    "User",
    "actor_for",
    "authenticate",
    "bootstrap_bank",
    "change_user",
    "create_branch",
    "create_org",
    "create_user",
    "get_branch",
    "get_or_create_branch",
    "get_or_create_org",
    "get_org",
    "get_user",
    "org_by_code",
    "record_login_failure",
    "reset_password",
    "set_active",
    "unlock",
    "update_branch",
    "update_org",
    "user_by_name",
    "wx_login",
]
