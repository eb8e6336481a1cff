"""Factoring's answer to the collateral area: an agreement as an exposure of its core
enterprise (the advances financed under it and not yet settled), for the LTV of a property
that secures it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.factoring.models import Agreement
from backend.platform.clock import utcnow
from backend.platform.ports import CreditExposure


def _exposure(agreement: Agreement) -> CreditExposure:
    return CreditExposure(
        credit_kind="factoring_agreement",
        credit_ref=agreement.code,
        borrower_org_id=agreement.core_org_id,
        outstanding=agreement.financed_outstanding,
        limit=agreement.limit_amount,
        active=agreement.status == "active" and agreement.valid_to >= utcnow().date(),
    )


class FactoringExposurePort:
    def credit_exposure(self, session: Session, credit_ref: str) -> CreditExposure | None:
        agreement = session.scalar(select(Agreement).where(Agreement.code == credit_ref[:40]))
        return _exposure(agreement) if agreement is not None else None

    def credits_of(self, session: Session, org_id: int) -> list[CreditExposure]:
        rows = session.scalars(select(Agreement).where(Agreement.core_org_id == org_id))
        return [_exposure(a) for a in rows]
