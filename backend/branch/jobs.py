"""Scheduled hall jobs: remote tickets never checked in expire; unused unlocks are voided;
vein revocations are sent again until the locks confirm; the hall displays are sent each
step's check-in code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.branch.cash.service import expire_unlocks
from backend.branch.queue import presence
from backend.branch.queue.pushes import push_presence_codes
from backend.branch.queue.service import expire_remote_tickets
from backend.branch.runtime import Hall
from backend.branch.veins.service import resend_revocations
from backend.platform.jobs import JobRegistry
from backend.platform.wiring import port

JOBS = JobRegistry()


@JOBS.job("branch.expire_remote_tickets", every_s=60)
def expire_remote(session: Session, now: datetime) -> dict:
    """Remote tickets not checked in within the hall's lifetime (30 min) expire."""
    return {"expired": expire_remote_tickets(session, port(session, Hall), now)}


@JOBS.job("branch.presence_codes", every_s=presence.STEP_S)
def presence_codes(session: Session, now: datetime) -> dict:
    """The hall displays show the branch's current check-in code (a QR code): sent each step."""
    return {"displays": push_presence_codes(session, port(session, Hall), now)}


@JOBS.job("branch.expire_unlocks", every_s=15)
def expire_cash_unlocks(session: Session, now: datetime) -> dict:
    """One-time unlocks not used within 120 s are voided (the lock is disarmed)."""
    return {"expired": expire_unlocks(session, port(session, Hall), now)}


@JOBS.job("branch.vein_revocations", every_s=60)
def vein_revocations(session: Session, now: datetime) -> dict:
    """Vein revocations the locks have not confirmed are sent again (every 60 s); capture
    requests no lock answered end as failed; enrolments on retired locks end."""
    return resend_revocations(session, port(session, Hall), now)
