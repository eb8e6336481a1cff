"""Asset-pool jobs (``JOBS``, declared in ``area.py``; ``finedge jobs list``). They act as the
system user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.assetpool.service import maturity
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("assetpool.asset_maturity", every_s=3600)
def asset_maturity(session: Session, now: datetime) -> dict:
    """Matured assets roll into margin cash; every pool recomputed; shortfalls recorded."""
    return maturity.mature_assets(session, SYSTEM, now=now)


@JOBS.job("assetpool.bill_maturity", every_s=3600)
def bill_maturity(session: Session, now: datetime) -> dict:
    """Pool bills due are paid (margin, margin cash, deposit, then a bank advance)."""
    return maturity.pay_due_bills(session, SYSTEM, now=now)
