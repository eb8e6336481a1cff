"""Fleet rollouts as stored and shown: the fleet's constants, a template's view, the rollout
looked up for an admin (a branch's rollout is another branch's staff's 404, like the branch
itself), which of its devices reject its template, and its view with each device's state and
the rollout's health.

A device is in sync when it reported the desired version the rollout gave it and refused none
of the template's keys; it rejects when, in a report of that version or a later one, it refused
a key of the template (an older refusal does not count); retired devices no longer count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.access import ensure_branch_staff, ensure_role
from backend.branch.models import FleetRollout, FleetRolloutDevice, FleetTemplate
from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, NotFound

DEVICE_TYPE = "counter"
LIFECYCLE = ("provisioned", "active", "maintenance", "retired")
OPEN_STATUSES = ("running", "halted")  # at most one rollout of a model is open
REJECTED_ALARM = "fleet_template_rejected"
REJECTED_SEVERITY = "major"


class RolloutHalted(BusinessRuleViolation):
    """The rollout is halted (or was just halted): devices reject its template."""

    code = "rollout_halted"


def template_view(t: FleetTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "model": t.model,
        "name": t.name,
        "version": t.version,
        "params": t.params,
        "created_at": isoformat(t.created_at),
    }


def find_rollout(
    session: Session, actor: Actor, rollout_id: int, *, lock: bool = False
) -> FleetRollout:
    """The rollout (admin). A branch's rollout is another branch's staff's 404, like the
    branch itself; ``lock``: FOR UPDATE, so changes of one rollout (and a halt) serialize."""
    if lock:
        rollout = session.get(
            FleetRollout, rollout_id, with_for_update=True, populate_existing=True
        )
    else:
        rollout = session.get(FleetRollout, rollout_id)
    if rollout is None:
        raise NotFound("rollout not found", code="rollout_not_found")
    if rollout.branch_id is not None:
        ensure_branch_staff(session, actor, rollout.branch_id, "admin")
    else:
        ensure_role(actor, "admin")
    return rollout


def rejected_keys(
    device: devices_port.DeviceInfo | None, row: FleetRolloutDevice, template: FleetTemplate
) -> dict[str, str]:
    """The template's keys the device refused, with the device's reasons: only from a report of
    the version the rollout gave it (or later), so an older refusal does not count."""
    if device is None or device.reported_version < row.applied_version:
        return {}
    raw = device.reported.get("rejected") or {}
    pairs = raw.items() if isinstance(raw, dict) else ((k, "rejected") for k in raw)
    return {str(k): str(v) for k, v in pairs if k in template.params}


def rejecting_devices(
    session: Session, rollout: FleetRollout, template: FleetTemplate
) -> list[dict[str, Any]]:
    """The rollout's devices (still applied, not retired) that reject a key of the template."""
    found = []
    for row in session.scalars(
        select(FleetRolloutDevice)
        .where(FleetRolloutDevice.rollout_id == rollout.id, FleetRolloutDevice.state == "applied")
        .order_by(FleetRolloutDevice.id)
    ):
        device = devices_port.find_device(session, row.device_id)
        if device is None or device.status == "retired":
            continue
        rejected = rejected_keys(device, row, template)
        if rejected:
            found.append(
                {
                    "device_id": row.device_id,
                    "branch_id": device.branch_id,
                    "rejected": rejected,
                    "reported_version": device.reported_version,
                }
            )
    return found


def rollout_view(session: Session, actor: Actor, rollout_id: int) -> dict[str, Any]:
    rollout = find_rollout(session, actor, rollout_id)
    template = session.get(FleetTemplate, rollout.template_id)
    devices = []
    health = {
        "applied": 0,
        "in_sync": 0,
        "rejected": 0,
        "pending": 0,
        "rolled_back": 0,
        "retired": 0,
    }
    for row in session.scalars(
        select(FleetRolloutDevice)
        .where(FleetRolloutDevice.rollout_id == rollout.id)
        .order_by(FleetRolloutDevice.id)
    ):
        device = devices_port.find_device(session, row.device_id)
        rejected = sorted(rejected_keys(device, row, template))
        if row.state == "rolled_back":
            state = "rolled_back"
        elif device is not None and device.status == "retired":
            state = "retired"
        elif rejected:
            state = "rejected"
        elif device is not None and device.reported_version >= row.applied_version:
            state = "in_sync"
        else:
            state = "pending"
        health["applied"] += row.state == "applied"
        health[state] += 1
        devices.append(
            {
                "device_id": row.device_id,
                "state": state,
                "rejected": rejected,
                "applied_version": row.applied_version,
            }
        )
    return {
        "id": rollout.id,
        "template": template_view(template),
        "branch_id": rollout.branch_id,
        "percentage": rollout.percentage,
        "status": rollout.status,
        "health": health,
        "devices": devices,
        "created_at": isoformat(rollout.created_at),
    }
