"""Floor-plan jobs (``JOBS``, declared in ``area.py``; ``finedge jobs list``).

Jobs act as the system user. Their alerts reach Socket.IO through the emitter of the process
that runs them (``live_of(session)``, handed in by the composition root): the app's where the
scheduler shares the web process, else the Redis message queue when REDIS_URL is set, else
nowhere (alerts are stored all the same).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from backend.floorplan.service import aging, audits, curtailment, maturity, release
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry
from backend.platform.wiring import live_of

JOBS = JobRegistry()

log = logging.getLogger(__name__)


@JOBS.job("floorplan.bill_maturity", every_s=3600)
def bill_maturity(session: Session, now: datetime) -> dict:
    """Sweep bills at maturity (margin, deposit, advance) and remind a week ahead."""
    live = live_of(session)
    result = maturity.settle_due_bills(session, SYSTEM, live, now=now)
    result.update(maturity.remind_maturing_bills(session, SYSTEM, live, now=now))
    return result


@JOBS.job("floorplan.curtailment", every_s=3600)
def curtailment_job(session: Session, now: datetime) -> dict:
    """Create curtailments of cars past the curtailment day; collect those due."""
    live = live_of(session)
    result = {"scheduled": curtailment.schedule_curtailments(session, SYSTEM, live, now=now)}
    result["collected"] = curtailment.collect_due_curtailments(session, SYSTEM, live, now=now)
    return result


@JOBS.job("floorplan.aging", every_s=3600)
def aging_job(session: Session, now: datetime) -> dict:
    """Aging alerts at the programme's thresholds (90/120/180 days in stock)."""
    return aging.scan_aging(session, SYSTEM, live_of(session), now=now)


@JOBS.job("floorplan.release_deadlines", every_s=600)
def release_deadlines(session: Session, now: datetime) -> dict:
    """Cars released before repayment and not repaid in time are out of trust."""
    return release.check_release_deadlines(session, SYSTEM, live_of(session), now=now)


@JOBS.job("floorplan.audit_schedule", every_s=86400)
def audit_schedule(session: Session, now: datetime) -> dict:
    """Open inventory audits, riskier dealers' yards more often."""
    return audits.schedule_audits(session, SYSTEM, now=now)
