"""Ledger jobs: holds past their deadline are expired (their funds released) every minute."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.ledger import service
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("ledger.expire_holds", every_s=60)
def expire_due_holds(session: Session, now: datetime) -> dict:
    """Expire pending holds whose deadline has passed."""
    return {"expired": service.expire_holds(session, SYSTEM, now=now)}
