"""Device jobs. The running ingest sweeps offline alarms every few seconds by itself (with live
pushes); this job is the same sweep by hand: ``finedge jobs run devices.offline_sweep``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.devices.ingest import IngestSettings, sweep_offline
from backend.platform.jobs import registry


@registry.job("devices.offline_sweep", description="raise/clear offline alarms of devices")
def offline_sweep(session: Session, now: datetime) -> dict:
    outcome = sweep_offline(session, now, IngestSettings())
    return {"alarm_changes": len(outcome.live)}
