"""Versioned configuration: haircuts, issuer tiers, tenor limits, fee and margin ratios.

A change is a new version (``effective_at``, who, the values), never an edit; history is kept.
The version in force at a moment is the highest one whose ``effective_at`` has come; before
any version exists the defaults (``rules.DEFAULT_CONFIG``) are version 0. Every computation
reads the version in force, and each bill records the version it was accepted under.
Changes: ``configure.change_config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.assetpool import rules
from backend.assetpool.models import PoolConfig


@dataclass(frozen=True)
class InForce:
    version: int
    values: dict


def in_force(session: Session, now: datetime) -> InForce:
    row = session.scalar(
        select(PoolConfig)
        .where(PoolConfig.effective_at <= now)
        .order_by(PoolConfig.version.desc())
        .limit(1)
    )
    if row is None:
        return InForce(0, rules.DEFAULT_CONFIG)
    return InForce(row.version, row.values)
