"""Monitoring jobs (``JOBS``, declared in collateral's ``area.py``; ``finedge jobs list``).
They act as the system user.

- ``collateral.ltv`` (daily): read the floor-plan lines' and factoring agreements'
  outstanding through their ports, then recompute every credit's LTV (risk events for levels
  that rose);
- ``collateral.revalue`` (monthly, the 1st at 02:00 UTC): revalue the book, run key
  ``YYYY-MM`` (a rerun the same month resumes, never values twice);
- ``collateral.ratio_study`` (quarterly, the 2nd day of a quarter at 03:00 UTC): the ratio
  study of the quarter just ended (``finedge jobs run collateral.ratio_study --as-of`` any
  day of the next quarter studies another; ``finedge collateral ratio-study --quarter``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.collateral.monitoring import ltv
from backend.collateral.monitoring.ratio import previous_quarter, run_ratio_study
from backend.collateral.monitoring.revaluation import revalue_book
from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("collateral.ltv", cron={"hour": 1, "minute": 15})
def ltv_daily(session: Session, now: datetime) -> dict:
    """Refresh floor-plan and factoring outstanding through their ports; recompute every LTV."""
    result = ltv.refresh_exposures(session, SYSTEM, now=now)
    computed = ltv.recompute(session, SYSTEM, now=now)
    result.update(
        credits=computed["credits"],
        levels=computed["levels"],
        level_changes=len(computed["changes"]),
        risk_events=computed["risk_events"],
    )
    return result


@JOBS.job("collateral.revalue", cron={"day": 1, "hour": 2, "minute": 0})
def revalue(session: Session, now: datetime) -> dict:
    """Revalue every active property with the champion (run key YYYY-MM), then every LTV;
    commits every chunk, so a crash resumes where it stopped."""
    try:
        return revalue_book(session, SYSTEM, run_key=now.strftime("%Y-%m"), now=now)
    except BusinessRuleViolation as exc:
        return {"skipped": exc.code}


@JOBS.job("collateral.ratio_study", cron={"month": "1,4,7,10", "day": 2, "hour": 3})
def ratio_study(session: Session, now: datetime) -> dict:
    """The IAAO ratio study of the quarter before ``now``'s, with its alarms."""
    quarter = previous_quarter(now.date())
    try:
        row = run_ratio_study(session, SYSTEM, quarter, now=now)
    except BusinessRuleViolation as exc:
        return {"quarter": quarter, "skipped": exc.code}
    return {
        "quarter": quarter,
        "sales": row.sales,
        "alarms": [a["code"] for a in row.alarms],
    }
