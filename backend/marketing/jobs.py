"""Marketing's scheduled jobs (``JOBS``, declared in ``area.py``; ``finedge jobs list``).

- ``marketing.events`` (every minute): the transaction feed after the cursor (at most 200,000
  rows a run: a backlog drains over several runs), then maturities ahead, loans closed early,
  clients gone dormant and VIP arrivals from the hall.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.marketing.events.service import detect_all
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("marketing.events", every_s=60)
def events(session: Session, now: datetime) -> dict:
    """Marketing events from the feed and the sweeps (docs/marketing.md, "Events")."""
    return detect_all(session, now)
