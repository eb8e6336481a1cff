"""Campaign jobs (``JOBS``, declared in marketing's ``area.py``), run as the system:

- ``marketing.campaigns`` (every 15 minutes): contact the treated clients of open campaigns
  under the contact policy (``delivery``), end campaigns past their window;
- ``marketing.conversions`` (daily, 02:30 UTC): attribute conversions of both arms
  (``conversions``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.marketing.campaigns.conversions import attribute_all
from backend.marketing.campaigns.delivery import run_campaigns
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()


@JOBS.job("marketing.campaigns", every_s=900)
def campaigns_job(session: Session, now: datetime) -> dict:
    """Send due SMS and mini-program messages, make RM tasks, under the contact policy."""
    return run_campaigns(session, now)


@JOBS.job("marketing.conversions", cron={"hour": 2, "minute": 30})
def conversions_job(session: Session, now: datetime) -> dict:
    """Attribute renewals, purchases, tier-ups and AUM growth to both arms of each campaign."""
    return attribute_all(session, now)
