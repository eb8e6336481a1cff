"""Factoring jobs (``JOBS``, declared in ``area.py``; ``finedge jobs list``). They act as the
system user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.factoring.service import collect_due, collect_recourse_due, mark_overdue
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("factoring.maturity", every_s=3600)
def maturity(session: Session, now: datetime) -> dict:
    """Debit each core enterprise's deposit for its parts due today (when it covers them) and
    settle them; then mark the parts still unpaid after maturity OVERDUE and report them; then
    collect each open recourse claim from its supplier's deposit, as far as it has money."""
    result = collect_due(session, SYSTEM, now=now)
    result.update(mark_overdue(session, SYSTEM, now=now))
    result.update(collect_recourse_due(session, SYSTEM, now=now))
    return result
