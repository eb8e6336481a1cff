"""The device area's read side: devices, their detail view, messages, commands and alarms as
the caller may see them (``get_device`` and every list apply the branch visibility rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.devices import catalog
from backend.devices.alarms import alarm_view, list_alarms
from backend.devices.models import Device, DeviceAlarm, DeviceCommand, DeviceMessage
from backend.devices.registry import branch_registry, get_device, list_devices
from backend.devices.service import command_view
from backend.devices.twin import twin
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate

__all__ = [
    "DeviceDetail",
    "alarm_view",
    "branch_registry",
    "command_view",
    "device_detail",
    "get_command",
    "get_device",
    "list_alarms",
    "list_devices",
    "list_messages",
    "twin",
]


@dataclass
class DeviceDetail:
    """A device with what its detail view adds: open alarms, the twin, the commands its kind
    accepts. The device's own attributes read through (the response schema names them)."""

    device: Device
    alarms: list[dict[str, Any]]
    twin: dict[str, Any]
    commands: list[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.device, name)


def device_detail(session: Session, actor: Actor, device_id: str) -> DeviceDetail:
    device = get_device(session, actor, device_id)
    alarms = session.scalars(
        select(DeviceAlarm)
        .where(DeviceAlarm.device_pk == device.id, DeviceAlarm.closed.is_(False))
        .order_by(DeviceAlarm.id)
    )
    return DeviceDetail(
        device,
        [alarm_view(a, device.device_id) for a in alarms],
        twin(device),
        list(catalog.commands_for(device.device_type)),
    )


def list_messages(
    session: Session,
    actor: Actor,
    device_id: str,
    *,
    channel: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    device = get_device(session, actor, device_id)
    stmt = select(DeviceMessage).where(DeviceMessage.device_pk == device.id)
    if channel:
        stmt = stmt.where(DeviceMessage.channel == channel)
    return paginate(session, stmt, DeviceMessage.id, limit=limit, cursor=cursor, descending=True)


# --------------------------------------------------------------------------- commands


def get_command(session: Session, actor: Actor, device_id: str, command_id: str) -> dict[str, Any]:
    """One command of a device the actor may see, and its outcome."""
    device = get_device(session, actor, device_id)
    command = session.scalar(
        select(DeviceCommand).where(
            DeviceCommand.command_id == command_id, DeviceCommand.device_pk == device.id
        )
    )
    if command is None:
        raise NotFound("command not found", code="command_not_found")
    return command_view(command, device.device_id)


def list_commands(
    session: Session,
    actor: Actor,
    device_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The commands sent to a device the actor may see, newest first, with their outcomes."""
    device = get_device(session, actor, device_id)
    stmt = select(DeviceCommand).where(DeviceCommand.device_pk == device.id)
    page = paginate(session, stmt, DeviceCommand.id, limit=limit, cursor=cursor, descending=True)
    return Page(
        items=[command_view(c, device.device_id) for c in page.items],
        next_cursor=page.next_cursor,
    )
