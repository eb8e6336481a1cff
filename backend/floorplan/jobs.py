"""Floor-plan jobs (registered in ``backend.platform.jobs``; ``finedge jobs list``).

Jobs act as the system user. Their alerts reach Socket.IO through ``job_live()``: the emitter
set with ``set_live`` by the process that runs the scheduler, else the Redis message queue when
REDIS_URL is set, else nowhere (the alerts are stored and listed all the same).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from sqlalchemy.orm import Session

from backend.floorplan import aging, audits, curtailment, maturity, release
from backend.platform.context import SYSTEM
from backend.platform.jobs import registry
from backend.platform.live import LiveEmitter

log = logging.getLogger(__name__)
_live: LiveEmitter | None = None


def set_live(emitter: LiveEmitter | None) -> None:
    """The composition root hands its emitter to the jobs run in its process."""
    global _live
    _live = emitter


def job_live() -> LiveEmitter | None:
    global _live
    if _live is None and os.environ.get("REDIS_URL"):
        from backend.platform.live import external_emitter

        _live = external_emitter(os.environ["REDIS_URL"])
    return _live


@registry.job("floorplan.bill_maturity", every_s=3600)
def bill_maturity(session: Session, now: datetime) -> dict:
    """Sweep bills at maturity (margin, deposit, advance) and remind a week ahead."""
    live = job_live()
    result = maturity.settle_due_bills(session, SYSTEM, live, now=now)
    result.update(maturity.remind_maturing_bills(session, SYSTEM, live, now=now))
    return result


@registry.job("floorplan.curtailment", every_s=3600)
def curtailment_job(session: Session, now: datetime) -> dict:
    """Create curtailments of cars past the curtailment day; collect those due."""
    live = job_live()
    result = {"scheduled": curtailment.schedule_curtailments(session, SYSTEM, live, now=now)}
    result["collected"] = curtailment.collect_due_curtailments(session, SYSTEM, live, now=now)
    return result


@registry.job("floorplan.aging", every_s=3600)
def aging_job(session: Session, now: datetime) -> dict:
    """Aging alerts at the programme's thresholds (90/120/180 days in stock)."""
    return aging.scan_aging(session, SYSTEM, job_live(), now=now)


@registry.job("floorplan.release_deadlines", every_s=600)
def release_deadlines(session: Session, now: datetime) -> dict:
    """Cars released before repayment and not repaid in time are out of trust."""
    return release.check_release_deadlines(session, SYSTEM, job_live(), now=now)


@registry.job("floorplan.audit_schedule", every_s=86400)
def audit_schedule(session: Session, now: datetime) -> dict:
    """Open inventory audits, riskier dealers' yards more often."""
    return audits.schedule_audits(session, SYSTEM, now=now)
