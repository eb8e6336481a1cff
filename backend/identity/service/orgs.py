"""Organisations: the bank, OEMs, dealers, supervisors, enterprises and branch orgs, each under
an optional parent (a dealer under its OEM, a branch org under the bank). An org's code and
kind are fixed once made (users' roles and objects depend on them); its name and parent change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity import rules
from backend.identity.models import Org
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM, Actor
from backend.platform.errors import Conflict, NotFound, ValidationFailed
from backend.platform.permissions import ensure_role

UNSET: Any = object()  # "not given", where None means something (no parent)


def _check_kind(kind: str) -> None:
    if kind not in rules.ORG_KINDS:
        raise ValidationFailed(
            f"unknown org kind {kind!r}", details={"kind": [f"one of {rules.ORG_KINDS}"]}
        )


def get_org(session: Session, org_id: int, *, field: str | None = None) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        if field:
            raise ValidationFailed(
                f"no org {org_id}", code="unknown_org", details={field: ["an existing org"]}
            )
        raise NotFound("org not found", code="org_not_found")
    return org


def org_by_code(session: Session, code: str) -> Org:
    org = session.scalar(select(Org).where(Org.code == code))
    if org is None:
        raise NotFound(f"no org with code {code!r}", code="org_not_found")
    return org


def add_org(
    session: Session, actor: Actor, code: str, name: str, kind: str, parent: Org | None
) -> Org:
    """The org, made and audited (callers have checked the code, name and kind)."""
    org = Org(
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        created_at=utcnow(),
    )
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor,
        "org.created",
        "org",
        org.id,
        after={"code": code, "name": name, "kind": kind, "parent_id": org.parent_id},
    )
    return org


def get_or_create_org(
    session: Session, code: str, name: str, kind: str, parent: Org | None = None
) -> Org:
    """Seeding and tests: the org with ``code``, made when missing."""
    _check_kind(kind)
    org = session.scalar(select(Org).where(Org.code == code))
    return org if org is not None else add_org(session, SYSTEM, code, name, kind, parent)


def create_org(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    parent_id: int | None = None,
) -> Org:
    """A new org (admin). Its code names it in the CLI and must be unused."""
    ensure_role(actor, "admin")
    rules.check_code(code, "code", 40)
    name = rules.check_name(name)
    _check_kind(kind)
    parent = get_org(session, parent_id, field="parent_id") if parent_id is not None else None
    if session.scalar(select(Org.id).where(Org.code == code)) is not None:
        raise Conflict(f"org {code!r} exists", code="org_exists")
    return add_org(session, actor, code, name, kind, parent)


def org_lineage(session: Session, org_id: int | None) -> list[int]:
    """The org and every org above it (its parent, the parent's parent, ...)."""
    seen: list[int] = []
    while org_id is not None and org_id not in seen and len(seen) < 32:
        seen.append(org_id)
        org_id = session.scalar(select(Org.parent_id).where(Org.id == org_id))
    return seen


def update_org(
    session: Session,
    actor: Actor,
    org_id: int,
    *,
    name: str | None = None,
    parent_id: int | None = UNSET,
) -> Org:
    """Rename an org or move it under another parent (or none); never under itself."""
    ensure_role(actor, "admin")
    org = get_org(session, org_id)
    before = {"name": org.name, "parent_id": org.parent_id}
    if name is not None:
        org.name = rules.check_name(name)
    if parent_id is not UNSET:
        if parent_id is not None:
            get_org(session, parent_id, field="parent_id")
            if org.id in org_lineage(session, parent_id):
                raise ValidationFailed(
                    "an org cannot be under itself",
                    code="org_cycle",
                    details={"parent_id": ["not the org itself or one under it"]},
                )
        org.parent_id = parent_id
    after = {"name": org.name, "parent_id": org.parent_id}
    if after != before:
        session.flush()
        audit.record(session, actor, "org.changed", "org", org.id, before, after)
    return org
