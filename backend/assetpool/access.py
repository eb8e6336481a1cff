"""Who may see and change which pool.

An enterprise user sees and changes only its own org's pool (and its assets, bills and
statement); bank staff see every pool. Anything else is "not found", so a pool's existence
does not leak. Self-service acts (enter, pledge, unpledge, margin, accept a bill) are the
enterprise's own (an admin may act too); bank staff (rm, approver, admin) open pools and
change the configuration.
"""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import Session

from backend.assetpool.models import Pool
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.permissions import ensure_role, ensure_visible

BANK_ROLES = ("rm", "approver", "admin")
SELF_SERVICE = ("enterprise",)


def scope(stmt: Select, column, actor: Actor) -> Select:
    """Only the rows of the caller's org, unless bank staff."""
    if actor.is_bank_staff:
        return stmt
    return stmt.where(column == actor.org_id) if actor.org_id is not None else stmt.where(False)


def get_pool(session: Session, actor: Actor, pool_id: int, *, lock: bool = False) -> Pool:
    pool = session.get(Pool, pool_id, with_for_update=lock, populate_existing=lock)
    ensure_visible(actor, pool, [pool.org_id] if pool else [], "pool")
    return pool


def pool_to_change(session: Session, actor: Actor, pool_id: int) -> Pool:
    """The pool, visible (else 404), locked, and the caller may act in it (else 403)."""
    get_pool(session, actor, pool_id)
    ensure_role(actor, *SELF_SERVICE)
    pool = session.get(Pool, pool_id, with_for_update=True, populate_existing=True)
    if pool is None:  # pragma: no cover - pools are never deleted
        raise NotFound("pool not found", code="pool_not_found")
    return pool
