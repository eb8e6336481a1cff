"""Floor-plan's answer to the collateral area: a dealer's credit line as an exposure (the
financed balance not yet repaid), for the LTV of a property that secures it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.floorplan.models import CreditLine
from backend.platform.ports import CreditExposure


def _exposure(line: CreditLine) -> CreditExposure:
    return CreditExposure(
        credit_kind="floorplan_line",
        credit_ref=str(line.id),
        borrower_org_id=line.dealer_org_id,
        outstanding=line.used_amount + line.rbr_used,
        limit=line.limit_amount,
        active=line.status == "active",
    )


class FloorplanExposurePort:
    def credit_exposure(self, session: Session, credit_ref: str) -> CreditExposure | None:
        if not credit_ref.isdigit() or len(credit_ref) > 18:
            return None
        line = session.get(CreditLine, int(credit_ref))
        return _exposure(line) if line is not None else None

    def credits_of(self, session: Session, org_id: int) -> list[CreditExposure]:
        lines = session.scalars(select(CreditLine).where(CreditLine.dealer_org_id == org_id))
        return [_exposure(line) for line in lines]
