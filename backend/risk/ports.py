"""What risk early warning offers other areas through ports (``backend.platform.ports``),
declared in ``area.py``: the disbursement gate (a hard signal blocks money leaving the bank)
and the intake of the bank's own risk events (out-of-trust cars, margin shortfalls, overdue
loans), both in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.live import LiveEmitter
from backend.risk import service


class RiskPort:
    """Risk's implementation of ``DisbursementGate`` and ``RiskEvents``."""

    def ensure_no_blocking_signal(
        self, session: Session, org_id: int, *, levels: tuple[str, ...] = ("hard",)
    ) -> None:
        service.ensure_no_blocking_signal(session, org_id, levels=levels)

    def record_internal_event(
        self,
        session: Session,
        actor: Actor,
        *,
        org_id: int,
        source: str,
        kind: str,
        severity: str,
        data: dict[str, Any],
        source_time: datetime,
        external_id: str | None = None,
        live: LiveEmitter | None = None,
    ) -> None:
        service.record_internal_event(
            session,
            actor,
            org_id=org_id,
            source=source,
            kind=kind,
            severity=severity,
            data=data,
            source_time=source_time,
            external_id=external_id,
            live=live,
        )
