"""Device alarms the cash flow and the vein enrolment raise, pushed to who must act on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.runtime import Hall
from backend.platform.live import rooms_for


def raise_and_push(
    session: Session,
    hall: Hall,
    device_id: str,
    rule: str,
    severity: str,
    message: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """Raise the device alarm ``rule``; when it changed, ``device.alarm`` goes to the device's
    branch and to admins after the commit."""
    view = devices_port.raise_alarm(session, device_id, rule, severity, message, details, now)
    if view is not None:
        device = devices_port.find_device(session, device_id)
        branch = device.branch_id if device else None
        hall.emit(
            session,
            "device.alarm",
            view,
            rooms_for(branches=[branch] if branch else [], roles=["admin"]),
        )
