"""The device area's write side in one namespace: provisioning and lifecycle (registry.py),
the twin (twin.py), alarms (alarms.py), and here the command records. The read side is
``queries``.

Plain functions ``(session, actor, ...)``; they never commit (the command dispatcher in
commands.py runs its own short transactions around the publish).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.devices import catalog
from backend.devices.alarms import (  # noqa: F401  (the service namespace)
    ALARM_ACK_ROLES,
    acknowledge_alarm,
    alarm_view,
    apply_signal,
    list_alarms,
    open_alarms_for,
)
from backend.devices.models import Device, DeviceCommand
from backend.devices.registry import (  # noqa: F401  (the service namespace)
    Credentials,
    Notify,
    branch_has_devices,
    branch_registry,
    branches_with_devices,
    can_see_branch,
    change_status,
    desired_configs,
    ensure_admin,
    get_device,
    list_devices,
    provision_device,
    registry_version,
    rotate_credentials,
    visible_branch_filter,
)
from backend.devices.twin import merge_patch, set_desired, twin, twin_delta  # noqa: F401
from backend.platform import audit
from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, ValidationFailed

_COMMAND_RE = re.compile(r"[a-z][a-z0-9_\-]*(\.[a-z][a-z0-9_\-]*)+")


def command_view(command: DeviceCommand, device_id: str) -> dict[str, Any]:
    return {
        "id": command.command_id,
        "device_id": device_id,
        "name": command.name,
        "args": command.args or {},
        "status": command.status,
        "reason": command.reason,
        "created_at": isoformat(command.created_at),
        "sent_at": isoformat(command.sent_at),
        "acked_at": isoformat(command.acked_at),
        "expires_at": isoformat(command.expires_at),
    }


def create_command(
    session: Session,
    actor: Actor,
    device_id: str,
    name: str,
    args: dict[str, Any],
    command_id: str,
    *,
    now: datetime | None = None,
) -> tuple[DeviceCommand, Device, bool]:
    """(command, device, created). An existing command id returns that command unchanged."""
    ensure_admin(actor)
    device = get_device(session, actor, device_id, lock=True)
    existing = session.scalar(select(DeviceCommand).where(DeviceCommand.command_id == command_id))
    if existing is not None:
        if existing.device_pk != device.id or existing.name != name:
            raise Conflict("command id used for another command", code="command_id_reused")
        return existing, device, False
    if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
        raise ValidationFailed("invalid command name", details={"name": ["a dotted name"]})
    if name not in catalog.commands_for(device.device_type):
        raise BusinessRuleViolation(
            f"a {device.device_type} does not take {name}",
            code="unknown_command",
            details={"commands": list(catalog.commands_for(device.device_type))},
        )
    if device.status == "retired":
        raise BusinessRuleViolation("device is retired", code="device_retired")
    if not device.hmac_secret_enc:
        raise BusinessRuleViolation("device has no secret", code="device_without_secret")
    now = now or utcnow()
    device.command_seq += 1
    command = DeviceCommand(
        command_id=command_id,
        device_pk=device.id,
        name=name,
        args=args,
        status="pending",
        reason="",
        requested_by=actor.user_id,
        created_at=now,
    )
    session.add(command)
    session.flush()
    if name not in catalog.SCREEN_COMMANDS:
        audit.record(
            session,
            actor,
            "device.command",
            "device",
            device_id,
            None,
            {"command_id": command_id, "name": name, "args": args},
        )
    return command, device, True


def prune_screen_commands(session: Session, now: datetime) -> int:
    """Delete the rows of screen commands (catalog.SCREEN_COMMANDS) older than a day."""
    cutoff = now - timedelta(seconds=catalog.SCREEN_COMMANDS_KEPT_S)
    result = session.execute(
        delete(DeviceCommand).where(
            DeviceCommand.name.in_(sorted(catalog.SCREEN_COMMANDS)),
            DeviceCommand.created_at < cutoff,
        )
    )
    return int(result.rowcount or 0)
