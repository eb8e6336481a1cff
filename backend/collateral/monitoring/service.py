"""Monitoring's use cases (the write side): a loan's outstanding and LTV, revaluation of the
book, market sales, the quarterly ratio study. Plain functions of (session, actor, ...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend.collateral.monitoring.ltv import recompute, refresh_exposures, report_outstanding
from backend.collateral.monitoring.ratio import Assessor, run_ratio_study
from backend.collateral.monitoring.revaluation import Valuer, revalue_book
from backend.collateral.monitoring.sales import import_sales
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.permissions import ensure_role

DECIDERS = ("approver", "admin")

__all__ = [
    "import_sales",
    "recompute",
    "refresh_exposures",
    "report_outstanding",
    "revalue_book",
    "run_ratio_study",
    "start_revaluation",
    "study_quarter",
]


def start_revaluation(
    factory: sessionmaker[Session],
    actor: Actor,
    run_key: str | None = None,
    *,
    valuer: Valuer | None = None,
) -> dict[str, Any]:
    """Approver or admin: revalue the book now (a new manual run, or resume ``run_key``)."""
    ensure_role(actor, *DECIDERS)
    key = run_key or f"manual-{utcnow():%Y%m%dT%H%M%S}"
    return revalue_book(factory, actor, run_key=key, valuer=valuer)


def study_quarter(
    session: Session, actor: Actor, quarter: str, *, assessor: Assessor | None = None
):
    """Approver or admin: the ratio study of ``quarter`` now (a rerun updates its row)."""
    ensure_role(actor, *DECIDERS)
    return run_ratio_study(session, actor, quarter, assessor=assessor)
