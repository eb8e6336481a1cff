"""What factoring needs from risk early warning, through the ports the composition root hands
in with the session (factoring imports nothing of backend/risk).

- ``ensure_no_blocking_signal``: before an advance, for the holder's org and the core
  enterprise's org, with ``levels=("hard", "strong")``: factoring refuses on strong signals too.
  The refusal becomes one of the application's reasons; its details (signals, rules) are kept
  for bank staff only.
- ``report_overdue``: an unpaid payable past maturity becomes a ``payable_overdue`` event of the
  core enterprise (days_overdue, amount), once per report day (external_id).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.errors import DomainError
from backend.platform.ports import DisbursementGate, RiskEvents
from backend.platform.wiring import port

LEVELS = ("hard", "strong")


def blocking_reason(session: Session, org_id: int, party: str) -> dict | None:
    """None when risk lets money go to or against ``org_id``; else a refusal reason."""
    try:
        port(session, DisbursementGate).ensure_no_blocking_signal(session, org_id, levels=LEVELS)
    except DomainError as exc:
        return {
            "code": "risk_blocked",
            "message": f"an open hard or strong risk signal on the {party}",
            "party": party,
            "internal": {"code": exc.code, **exc.details},
        }
    return None


def report_overdue(
    session: Session,
    actor: Actor,
    *,
    core_org_id: int,
    payable_id: int,
    days_overdue: int,
    bucket: int,
    amount: Decimal,
    now: datetime,
) -> None:
    port(session, RiskEvents).record_internal_event(
        session,
        actor,
        org_id=core_org_id,
        source="factoring",
        kind="payable_overdue",
        severity="high" if bucket >= 30 else "medium",
        data={"days_overdue": days_overdue, "amount": str(amount)},
        source_time=now,
        external_id=f"fct:overdue:{payable_id}:{bucket}",
    )
