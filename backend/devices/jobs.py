"""Device jobs. The running ingest sweeps offline alarms every few seconds by itself (with live
pushes); this job is the same sweep by hand: ``finedge jobs run devices.offline_sweep``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.devices.ingest import IngestSettings, sweep_offline
from backend.devices.service import prune_screen_commands
from backend.platform.jobs import registry


@registry.job("devices.offline_sweep", description="raise/clear offline alarms of devices")
def offline_sweep(session: Session, now: datetime) -> dict:
    outcome = sweep_offline(session, now, IngestSettings())
    return {"alarm_changes": len(outcome.live)}


@registry.job("devices.prune_screen_commands", every_s=3600)
def prune_screens(session: Session, now: datetime) -> dict:
    """Rows of screen commands (calls, queue boards) older than a day are deleted."""
    return {"deleted": prune_screen_commands(session, now)}
