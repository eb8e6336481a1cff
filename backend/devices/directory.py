"""The device registry as other areas see it: the ``DeviceDirectory`` port
(``backend.platform.ports``) that the devices area offers (declared in ``area.py``). The hall
reads devices and their live view through it, changes a twin's desired configuration, raises
device alarms and reads back a command it sent, without importing this area."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.devices import service as devices
from backend.devices.models import Device, DeviceCommand
from backend.devices.rules import AlarmSignal
from backend.platform.context import Actor
from backend.platform.ports import DeviceInfo


def _info(device: Device) -> DeviceInfo:
    return DeviceInfo(
        device_id=device.device_id,
        branch_id=device.branch_id,
        device_type=device.device_type,
        model=device.model or "",
        status=device.status,
        online=bool(device.online),
        state=dict(device.state or {}),
        desired=dict(device.desired or {}),
        desired_version=device.desired_version,
        reported=dict(device.reported or {}),
        reported_version=device.reported_version,
    )


class Directory:
    """The devices area's implementation of ``DeviceDirectory``."""

    def find_device(self, session: Session, device_id: str) -> DeviceInfo | None:
        device = session.scalar(select(Device).where(Device.device_id == device_id))
        return _info(device) if device is not None else None

    def retired_among(self, session: Session, device_ids: Iterable[str]) -> set[str]:
        """Those of these devices that are retired."""
        ids = sorted(set(device_ids))
        if not ids:
            return set()
        return set(
            session.scalars(
                select(Device.device_id).where(
                    Device.device_id.in_(ids), Device.status == "retired"
                )
            )
        )

    def devices_of(
        self,
        session: Session,
        branch_id: str | None,
        device_type: str | None = None,
        *,
        model: str | None = None,
    ) -> list[DeviceInfo]:
        stmt = select(Device).where(Device.status != "retired").order_by(Device.device_id)
        if branch_id is not None:
            stmt = stmt.where(Device.branch_id == branch_id)
        if device_type is not None:
            stmt = stmt.where(Device.device_type == device_type)
        if model is not None:
            stmt = stmt.where(Device.model == model)
        return [_info(d) for d in session.scalars(stmt)]

    def set_desired(
        self, session: Session, actor: Actor, device_id: str, patch: dict[str, Any], now: datetime
    ) -> int:
        """Merge-patch the twin's desired config; the new desired version."""
        device = devices.set_desired(session, actor, device_id, patch, now=now)
        return device.desired_version

    def raise_alarm(
        self,
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
        device = session.scalar(select(Device).where(Device.device_id == device_id))
        if device is None:
            return None
        open_alarms = devices.open_alarms_for(session, {device.id})
        signal = AlarmSignal(rule, active, severity, message, details)
        alarm = devices.apply_signal(session, device, signal, now, open_alarms)
        if alarm is None:
            return None
        session.flush()
        return devices.alarm_view(alarm, device.device_id)

    def command_sent(
        self, session: Session, device_id: str, command_id: str
    ) -> tuple[str, dict[str, Any]] | None:
        """(name, args) of a command sent to this device, or None if it is not one of its own."""
        row = session.execute(
            select(DeviceCommand.name, DeviceCommand.args)
            .join(Device, Device.id == DeviceCommand.device_pk)
            .where(DeviceCommand.command_id == command_id, Device.device_id == device_id)
        ).first()
        return (row[0], dict(row[1] or {})) if row is not None else None
