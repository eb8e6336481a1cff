"""What the asset pool needs from risk early warning, through the ports the composition root
hands in with the session (``backend.platform.ports``); nothing of backend/risk is imported.

- ``ensure_no_blocking_signal``: before a new bill is accepted against the pool; a hard signal
  on the enterprise blocks it. Bank staff get the risk details; the enterprise a plain 422
  ``disbursement_refused``.
- ``record_shortfall``: a ``pool_shortfall`` risk event of the enterprise (its capacity fell
  below its bills, or the bank advanced at a bill's maturity), idempotent on ``external_id``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.platform.context import Actor
from backend.platform.ports import RiskEvents, ensure_disbursement_allowed
from backend.platform.wiring import port

PLAIN_REFUSAL = "the bank cannot accept this bill at the moment; please contact your bank"


def ensure_no_blocking_signal(session: Session, actor: Actor, org_id: int) -> None:
    ensure_disbursement_allowed(session, actor, org_id, plain_message=PLAIN_REFUSAL)


def record_shortfall(
    session: Session,
    actor: Actor,
    *,
    org_id: int,
    amount: Decimal,
    source_time: datetime,
    external_id: str,
) -> None:
    port(session, RiskEvents).record_internal_event(
        session,
        actor,
        org_id=org_id,
        source="assetpool",
        kind="pool_shortfall",
        severity="medium",
        data={"amount": str(amount)},
        source_time=source_time,
        external_id=external_id,
    )
