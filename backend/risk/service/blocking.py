"""The disbursement block other areas ask about before they lend.

- ``has_blocking_signal(session, org_id=..., credit_code=...)``: is a hard signal open,
  pending review or confirmed for the enterprise linked to this org (or with this code)?
- ``ensure_no_blocking_signal(session, org_id)``: raise ``BusinessRuleViolation``
  (``disbursement_blocked_by_risk``, 422) naming the blocking signals; floor-plan finance calls
  it before every draw or disbursement (and factoring will).

An org without an enterprise record is not blocked (no risk data is known about it).  The
bank's own events that raise such signals arrive through ``internal_events.py``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform.errors import BusinessRuleViolation
from backend.risk.creditcode import normalize_credit_code
from backend.risk.models import ACTIVE_STATUSES, Enterprise, RiskSignal


def _enterprise_filter(org_id: int | None, credit_code: str | None):
    if (org_id is None) == (credit_code is None):
        raise ValueError("give exactly one of org_id or credit_code")
    if org_id is not None:
        return Enterprise.org_id == org_id
    return Enterprise.credit_code == normalize_credit_code(credit_code)


def blocking_signals(
    session: Session,
    *,
    org_id: int | None = None,
    credit_code: str | None = None,
    levels: tuple[str, ...] = ("hard",),
) -> list[RiskSignal]:
    stmt = (
        select(RiskSignal)
        .join(Enterprise, Enterprise.id == RiskSignal.enterprise_id)
        .where(
            _enterprise_filter(org_id, credit_code),
            RiskSignal.level.in_(levels),
            RiskSignal.status.in_(ACTIVE_STATUSES),
        )
        .order_by(RiskSignal.id)
    )
    return list(session.scalars(stmt))


def has_blocking_signal(
    session: Session, *, org_id: int | None = None, credit_code: str | None = None
) -> bool:
    """True while a hard signal of the enterprise is open, pending review or confirmed."""
    stmt = (
        select(RiskSignal.id)
        .join(Enterprise, Enterprise.id == RiskSignal.enterprise_id)
        .where(
            _enterprise_filter(org_id, credit_code),
            RiskSignal.level == "hard",
            RiskSignal.status.in_(ACTIVE_STATUSES),
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


def ensure_no_blocking_signal(
    session: Session, org_id: int, *, levels: tuple[str, ...] = ("hard",)
) -> None:
    """Raise BusinessRuleViolation(code="disbursement_blocked_by_risk") while a signal of one of
    ``levels`` is open (floor-plan and the asset pool: hard; factoring: hard or strong)."""
    signals = blocking_signals(session, org_id=org_id, levels=levels)
    if signals:
        raise BusinessRuleViolation(
            f"disbursement is blocked by an unresolved {signals[0].level} risk signal",
            code="disbursement_blocked_by_risk",
            details={
                "enterprise_id": signals[0].enterprise_id,
                "signals": [
                    {
                        "id": s.id,
                        "rule_id": s.rule_id,
                        "level": s.level,
                        "status": s.status,
                        "reason": s.reason,
                    }
                    for s in signals
                ],
            },
        )
