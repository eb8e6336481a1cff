"""The device twin: desired configuration (set by staff, versioned, a JSON merge patch) against
the reported one (what the device last applied), and the difference between them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.devices.models import Device
from backend.devices.registry import Notify, ensure_admin, get_device
from backend.platform import audit, changes
from backend.platform.after_commit import after_commit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, ValidationFailed


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes a key."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result


def twin_delta(desired: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
    """Keys whose desired value the device has not (yet) reported: {key: {desired, reported}}."""
    return {
        key: {"desired": value, "reported": reported.get(key)}
        for key, value in desired.items()
        if reported.get(key) != value
    }


def twin(device: Device) -> dict[str, Any]:
    reported_config = (device.reported or {}).get("config", {})
    delta = twin_delta(device.desired or {}, reported_config)
    return {
        "desired": device.desired or {},
        "desired_version": device.desired_version,
        "reported": reported_config,
        "reported_version": device.reported_version,
        "rejected": (device.reported or {}).get("rejected", {}),
        "delta": delta,
        "in_sync": not delta and device.reported_version >= device.desired_version,
    }


def set_desired(
    session: Session,
    actor: Actor,
    device_id: str,
    patch: dict[str, Any],
    *,
    now: datetime | None = None,
    notify: Notify | None = None,
) -> Device:
    ensure_admin(actor)
    if not isinstance(patch, dict):
        raise ValidationFailed("desired must be an object", details={"desired": ["an object"]})
    device = get_device(session, actor, device_id, lock=True)
    if device.status == "retired":
        raise BusinessRuleViolation("device is retired", code="device_retired")
    before = {"desired": device.desired, "desired_version": device.desired_version}
    device.desired = merge_patch(device.desired or {}, patch)
    device.desired_version += 1
    device.updated_at = now or utcnow()
    changes.touch(session, device.branch_id, "devices")
    audit.record(
        session,
        actor,
        "device.config",
        "device",
        device_id,
        before,
        {"desired": device.desired, "desired_version": device.desired_version},
    )
    after_commit(session, notify)
    return device
