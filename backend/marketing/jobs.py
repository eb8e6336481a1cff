"""Marketing's scheduled jobs (``JOBS``, declared in ``area.py``; ``finedge jobs list``).

- ``marketing.events`` (every minute): the transaction feed after the cursor (at most 200,000
  rows a run: a backlog drains over several runs), then maturities ahead and loans closed
  early (the day's first run), clients gone dormant and VIP arrivals from the hall;
- ``marketing.tags`` (daily, 04:30 UTC): the rule tags of ``tags.yaml`` recomputed for every
  client (after the night's feed and events).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.marketing.events.service import detect_all
from backend.marketing.tags import apply_tags
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("marketing.events", every_s=60)
def events(session: Session, now: datetime) -> dict:
    """Marketing events from the feed and the sweeps (docs/marketing.md, "Events")."""
    return detect_all(session, now)


@JOBS.job("marketing.tags", cron={"hour": 4, "minute": 30})
def tags(session: Session, now: datetime) -> dict:
    """Rule tags (``backend/marketing/tags.yaml``) recomputed for every client."""
    return apply_tags(session, now)
