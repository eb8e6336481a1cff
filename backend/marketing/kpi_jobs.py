"""Marketing KPI jobs (``JOBS``, merged into the area's registry in ``area.py``).

- ``marketing.kpis`` (daily, 04:30 UTC): recompute the RM KPI credits of every launched and
  ended campaign (``kpi.compute``; idempotent: rows updated in place).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.marketing import kpi
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("marketing.kpis", cron={"hour": 4, "minute": 30})
def kpis(session: Session, now: datetime) -> dict:
    """Recompute the RM KPI credits (incremental conversions and activity) of live campaigns."""
    return kpi.compute(session, SYSTEM, now)
