"""Floor-plan jobs (registered in ``backend.platform.jobs``; ``finedge jobs list``).

Jobs act as the system user. Their alerts reach Socket.IO through the process emitter
(``backend.platform.live.process_emitter``): the app's in the process that runs the scheduler,
else the Redis message queue when REDIS_URL is set, else nowhere (alerts are stored all the same).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from backend.floorplan.service import aging, audits, curtailment, maturity, release
from backend.platform.context import SYSTEM
from backend.platform.jobs import registry
from backend.platform.live import process_emitter

log = logging.getLogger(__name__)


@registry.job("floorplan.bill_maturity", every_s=3600)
def bill_maturity(session: Session, now: datetime) -> dict:
    """Sweep bills at maturity (margin, deposit, advance) and remind a week ahead."""
    live = process_emitter()
    result = maturity.settle_due_bills(session, SYSTEM, live, now=now)
    result.update(maturity.remind_maturing_bills(session, SYSTEM, live, now=now))
    return result


@registry.job("floorplan.curtailment", every_s=3600)
def curtailment_job(session: Session, now: datetime) -> dict:
    """Create curtailments of cars past the curtailment day; collect those due."""
    live = process_emitter()
    result = {"scheduled": curtailment.schedule_curtailments(session, SYSTEM, live, now=now)}
    result["collected"] = curtailment.collect_due_curtailments(session, SYSTEM, live, now=now)
    return result


@registry.job("floorplan.aging", every_s=3600)
def aging_job(session: Session, now: datetime) -> dict:
    """Aging alerts at the programme's thresholds (90/120/180 days in stock)."""
    return aging.scan_aging(session, SYSTEM, process_emitter(), now=now)


@registry.job("floorplan.release_deadlines", every_s=600)
def release_deadlines(session: Session, now: datetime) -> dict:
    """Cars released before repayment and not repaid in time are out of trust."""
    return release.check_release_deadlines(session, SYSTEM, process_emitter(), now=now)


@registry.job("floorplan.audit_schedule", every_s=86400)
def audit_schedule(session: Session, now: datetime) -> dict:
    """Open inventory audits, riskier dealers' yards more often."""
    return audits.schedule_audits(session, SYSTEM, now=now)
