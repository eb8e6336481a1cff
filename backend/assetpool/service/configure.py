"""A change of the pool's terms: a new configuration version (admin or approver), history kept;
one that takes effect at once recomputes every pool in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.assetpool import rules
from backend.assetpool.models import PoolConfig
from backend.assetpool.service.config import in_force
from backend.assetpool.service.pools import refresh_all
from backend.platform import audit
from backend.platform.clock import ensure_utc, utcnow
from backend.platform.context import Actor
from backend.platform.permissions import ensure_role


def change_config(
    session: Session,
    actor: Actor,
    values: dict,
    *,
    effective_at: datetime | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> PoolConfig:
    """Bank admin or approver: a new version over the one in force (fields not given are
    kept). A version effective now recomputes every pool (and records shortfalls)."""
    ensure_role(actor, "approver")
    now = now or utcnow()
    effective = ensure_utc(effective_at) if effective_at else now
    base = in_force(session, max(effective, now)).values
    merged = rules.validate_config({**base, **values})
    last = session.scalar(select(func.max(PoolConfig.version))) or 0
    row = PoolConfig(
        version=last + 1,
        effective_at=effective,
        values=merged,
        note=note,
        created_by_user_id=actor.user_id,
        created_by_username=actor.username,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "assetpool.config_changed",
        "ap_config",
        row.version,
        before={"version": last},
        after={"version": row.version, "effective_at": effective, "values": merged},
    )
    if effective <= now:
        refresh_all(session, actor, now=now)
    return row
