"""Device jobs. The running ingest sweeps offline alarms every few seconds by itself (with live
pushes); ``devices.offline_sweep`` is the same sweep by hand or where no hub runs, and pushes the
alarm changes through the process's emitter. ``devices.prune_messages`` is the retention of the
area's high-volume tables (hourly, in batches that commit one by one)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from backend.devices.models import DeviceCommand, DeviceMessage
from backend.devices.service import prune_screen_commands
from backend.devices.uplinks import sweep_offline
from backend.platform import retention
from backend.platform.after_commit import push_live
from backend.platform.jobs import JobRegistry
from backend.platform.wiring import live_of, wiring_of

JOBS = JobRegistry()
FINISHED_COMMANDS = ("ok", "rejected", "failed", "timeout")  # pending and sent ones are kept


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


@JOBS.job("devices.prune_messages", every_s=3600)
def prune_messages(session: Session, now: datetime) -> dict:
    """Delete device messages older than FINEDGE_DEVICE_MESSAGES_DAYS and finished device
    commands older than FINEDGE_DEVICE_COMMANDS_DAYS, in batches (backend/platform/retention.py)."""
    config = wiring_of(session).config
    messages = retention.prune(
        session, DeviceMessage, "received_at", timedelta(days=config.device_messages_days), now=now
    )
    commands = retention.prune(
        session,
        DeviceCommand,
        "created_at",
        timedelta(days=config.device_commands_days),
        now=now,
        where=DeviceCommand.status.in_(FINISHED_COMMANDS),
    )
    return {"device_messages": messages.as_dict(), "device_commands": commands.as_dict()}
