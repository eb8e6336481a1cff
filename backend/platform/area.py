"""The platform's own declaration: its tables (audit log, idempotency keys, job runs, the branch
change journal), its housekeeping jobs, and the HTTP endpoints every deployment has (health,
admin)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.areas import Area
from backend.platform.idempotency import purge_expired
from backend.platform.jobs import JobRegistry, JobRun
from backend.platform.retention import prune
from backend.platform.wiring import wiring_of

JOBS = JobRegistry()


@JOBS.job("purge_idempotency_keys", every_s=3600)
def purge_idempotency_keys(session: Session, now: datetime) -> dict[str, Any]:
    """Delete idempotency keys older than 24 hours."""
    return {"deleted": purge_expired(session, now)}


@JOBS.job("prune_job_runs", every_s=86400)
def prune_job_runs(session: Session, now: datetime) -> dict[str, Any]:
    """Delete job run records older than FINEDGE_JOB_RUNS_DAYS, in batches."""
    days = wiring_of(session).config.job_runs_days
    return prune(session, JobRun, "started_at", timedelta(days=days), now=now).as_dict()


AREA = Area(
    name="platform",
    description="audit log, idempotency, jobs, health and admin endpoints",
    models=(
        "backend.platform.audit",
        "backend.platform.idempotency",
        "backend.platform.jobs",
        "backend.platform.changes",
    ),
    blueprints=("miniapp_api.health", "miniapp_api.admin"),
    pages=("web.shell",),
    jobs=JOBS,
    benchmarks={"pages": "bench.pages"},  # the screens: time to usable against their API calls
)
