"""Device jobs. The running ingest sweeps offline alarms every few seconds by itself (with live
pushes); ``devices.offline_sweep`` is the same sweep by hand or where no hub runs, and pushes the
alarm changes through the process's emitter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.devices.service import prune_screen_commands
from backend.devices.uplinks import sweep_offline
from backend.platform.after_commit import push_live
from backend.platform.jobs import JobRegistry
from backend.platform.wiring import live_of

JOBS = JobRegistry()


@JOBS.job("devices.offline_sweep", description="raise/clear offline alarms of devices")
def offline_sweep(session: Session, now: datetime) -> dict:
    outcome = sweep_offline(session, now)
    live = live_of(session)
    for event, data, rooms in outcome.live:
        push_live(session, live, event, data, rooms)
    return {"alarm_changes": len(outcome.live)}


@JOBS.job("devices.prune_screen_commands", every_s=3600)
def prune_screens(session: Session, now: datetime) -> dict:
    """Rows of screen commands (calls, queue boards) older than a day are deleted."""
    return {"deleted": prune_screen_commands(session, now)}
