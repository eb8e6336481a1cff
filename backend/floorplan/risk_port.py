"""The two things floor-plan needs from risk early warning, through the ports the composition
root hands in with the session (``backend.platform.ports``): floor-plan imports nothing of
backend/risk.

- ``ensure_no_blocking_signal(session, actor, org_id)``: called before every draw (bill
  issuance, release-before-repay); raises BusinessRuleViolation ``disbursement_blocked_by_risk``
  while a hard signal is open for the enterprise linked to the dealer's org
  (``DisbursementGate``). Its details (the enterprise id, the signals with their rules) are the
  bank's internal risk view: bank staff get them; anyone else (a dealer asking for release
  before repayment) gets a plain refusal, 422 ``disbursement_refused`` with no details.
- ``record_internal_event(session, actor, ...)``: out-of-trust cars, margin shortfalls and
  overdue curtailments become risk events of the dealer, in the caller's transaction
  (``RiskEvents``).

A process whose root installed no risk area refuses to start (floor-plan declares it needs
both ports). Floor-plan grades alerts in the bank's four levels (hard, strong, medium, weak);
risk events take risk's severities, mapped here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.live import LiveEmitter
from backend.platform.ports import RiskEvents, ensure_disbursement_allowed
from backend.platform.wiring import port

SEVERITY = {"hard": "critical", "strong": "high", "medium": "medium", "weak": "low"}


PLAIN_REFUSAL = "the bank cannot grant this at the moment; please contact your relationship manager"


def ensure_no_blocking_signal(session: Session, actor: Actor, org_id: int) -> None:
    """Refuse a draw while risk blocks the dealer; the details only for bank staff."""
    ensure_disbursement_allowed(session, actor, org_id, plain_message=PLAIN_REFUSAL)


def record_internal_event(
    session: Session,
    actor: Actor,
    *,
    org_id: int,
    kind: str,
    severity: str,
    data: dict[str, Any],
    source_time: datetime,
    external_id: str | None = None,
    live: LiveEmitter | None = None,
) -> None:
    """kind: vehicle_out_of_trust (data: vin) | margin_shortfall (amount) | overdue_loan
    (days_overdue, amount). ``external_id`` makes a repeat of the same fact a no-op."""
    port(session, RiskEvents).record_internal_event(
        session,
        actor,
        org_id=org_id,
        source="floorplan",
        kind=kind,
        severity=SEVERITY.get(severity, severity),
        data=data,
        source_time=source_time,
        external_id=external_id,
        live=live,
    )
