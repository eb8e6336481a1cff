"""Branches as the bank knows them: code (it names the branch's MQTT topics and broker logins),
name, the org that owns it, and opening hours. A new branch gets its own org of kind
``branch`` under the bank unless an existing org is named. The hall inside (time zone,
services, counters) is the branch area's (backend/branch/configuration.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity import rules
from backend.identity.models import Branch, Org
from backend.identity.service.orgs import UNSET, add_org, get_org
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.platform.permissions import ensure_role


def get_or_create_branch(session: Session, code: str, name: str, org: Org) -> Branch:
    """Seeding and tests: the branch with ``code``, made when missing."""
    branch = session.scalar(select(Branch).where(Branch.code == code))
    if branch is None:
        branch = Branch(code=code, name=name, org_id=org.id)
        session.add(branch)
        session.flush()
    return branch


def get_branch(session: Session, code: str) -> Branch:
    branch = session.scalar(select(Branch).where(Branch.code == code))
    if branch is None:
        raise NotFound("branch not found", code="branch_not_found")
    return branch


def _view(branch: Branch) -> dict[str, Any]:
    return {"name": branch.name, "org_id": branch.org_id, "opening_hours": branch.opening_hours}


def _default_parent(session: Session, actor: Actor) -> Org:
    """The acting admin's bank, or the one bank org there is."""
    if actor.org_id is not None:
        own = session.get(Org, actor.org_id)
        if own is not None and own.kind == "bank":
            return own
    banks = session.scalars(select(Org).where(Org.kind == "bank").limit(2)).all()
    if len(banks) != 1:
        raise ValidationFailed(
            "name the org the branch belongs under",
            code="parent_required",
            details={"parent_org_id": ["the bank org (there is not exactly one)"]},
        )
    return banks[0]


def create_branch(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    org_id: int | None = None,
    parent_org_id: int | None = None,
    opening_hours: dict | None = None,
) -> Branch:
    """A new branch (admin), owned by ``org_id`` (a bank or branch org) or by a new org of kind
    ``branch`` with the branch's code under ``parent_org_id`` (default: the bank)."""
    ensure_role(actor, "admin")
    rules.check_branch_code(code)
    name = rules.check_name(name)
    hours = rules.normalise_opening_hours(opening_hours) if opening_hours is not None else None
    if session.scalar(select(Branch.id).where(Branch.code == code)) is not None:
        raise Conflict(f"branch {code!r} exists", code="branch_exists")
    if org_id is not None:
        org = get_org(session, org_id, field="org_id")
        if org.kind not in rules.BANK_ORG_KINDS:
            raise ValidationFailed(
                f"a branch cannot belong to a {org.kind} org",
                code="org_kind_mismatch",
                details={"org_id": ["an org of kind bank or branch"]},
            )
    else:
        parent = (
            get_org(session, parent_org_id, field="parent_org_id")
            if parent_org_id is not None
            else _default_parent(session, actor)
        )
        org = session.scalar(select(Org).where(Org.code == code))
        if org is not None and org.kind != "branch":
            raise Conflict(
                f"org {code!r} exists and is a {org.kind} org; name the branch's org_id",
                code="org_exists",
            )
        if org is None:
            org = add_org(session, actor, code, name, "branch", parent)
    branch = Branch(code=code, name=name, org_id=org.id, opening_hours=hours)
    session.add(branch)
    session.flush()
    audit.record(
        session, actor, "branch.created", "branch", code, after={"code": code, **_view(branch)}
    )
    return branch


def update_branch(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str | None = None,
    opening_hours: dict | None = UNSET,
) -> Branch:
    """Rename a branch or change its opening hours (admin); ``None`` hours: not published."""
    ensure_role(actor, "admin")
    branch = get_branch(session, code)
    before = _view(branch)
    if name is not None:
        branch.name = rules.check_name(name)
    if opening_hours is not UNSET:
        branch.opening_hours = (
            rules.normalise_opening_hours(opening_hours) if opening_hours is not None else None
        )
    after = _view(branch)
    if after != before:
        session.flush()
        audit.record(session, actor, "branch.changed", "branch", code, before, after)
    return branch
