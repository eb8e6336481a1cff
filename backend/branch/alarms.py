"""Device alarms the hall raises or clears (cash flow, vein enrolment, fleet rollouts), pushed to
who must act on them."""

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
    *,
    active: bool = True,
) -> None:
    """Raise (or clear, ``active=False``) the device alarm ``rule``; when it changed,
    ``device.alarm`` goes to the device's branch and to admins after the commit."""
    view = devices_port.raise_alarm(
        session, device_id, rule, severity, message, details, now, active=active
    )
    if view is not None:
        branch = view.get("branch_id")
        hall.emit(
            session,
            "device.alarm",
            view,
            rooms_for(branches=[branch] if branch else [], roles=["admin"]),
        )
