"""Clearing jobs (``JOBS``, declared in ``area.py``): the gap alarm."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.clearing.service import check_gaps
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("clearing.check_gaps", every_s=30)
def check_gaps_job(session: Session, now: datetime) -> dict:
    """Alarm on sequence gaps left open longer than the clearing house allows."""
    return check_gaps(session, SYSTEM, now=now)
