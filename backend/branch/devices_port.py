"""The hall's one door into the device area: the ``DeviceDirectory`` port that the composition
root hands in with the session (``backend.platform.ports``). Read the registry and the live view
of devices, change a twin's desired configuration, raise device alarms, read back a command the
hall sent (to understand the device's ack).

The hall imports nothing of backend/devices: everything it knows about devices goes through
these few functions, so a change in the device area touches the port only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.ports import DeviceDirectory, DeviceInfo
from backend.platform.wiring import port

__all__ = [
    "DeviceInfo",
    "command_sent",
    "devices_of",
    "find_device",
    "raise_alarm",
    "retired_among",
    "set_desired",
]


def _directory(session: Session) -> DeviceDirectory:
    return port(session, DeviceDirectory)


def find_device(session: Session, device_id: str) -> DeviceInfo | None:
    return _directory(session).find_device(session, device_id)


def retired_among(session: Session, device_ids: Iterable[str]) -> set[str]:
    """Those of these devices that are retired."""
    return _directory(session).retired_among(session, device_ids)


def devices_of(
    session: Session,
    branch_id: str | None,
    device_type: str | None = None,
    *,
    model: str | None = None,
) -> list[DeviceInfo]:
    return _directory(session).devices_of(session, branch_id, device_type, model=model)


def set_desired(
    session: Session, actor: Actor, device_id: str, patch: dict[str, Any], now: datetime
) -> int:
    """Merge-patch the twin's desired config; the new desired version."""
    return _directory(session).set_desired(session, actor, device_id, patch, now)


def raise_alarm(
    session: Session,
    device_id: str,
    rule: str,
    severity: str,
    message: str,
    details: dict[str, Any],
    now: datetime,
    *,
    active: bool = True,
) -> dict[str, Any] | None:
    """Raise (or clear, ``active=False``) a device alarm; its view when it changed."""
    return _directory(session).raise_alarm(
        session, device_id, rule, severity, message, details, now, active=active
    )


def command_sent(
    session: Session, device_id: str, command_id: str
) -> tuple[str, dict[str, Any]] | None:
    """(name, args) of a command sent to this device, or None if it is not one of its own."""
    return _directory(session).command_sent(session, device_id, command_id)
