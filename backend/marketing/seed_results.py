"""The demo's uplift model and KPI points (a seeder of marketing's ``area.py``; it runs after
the campaign seeder, whose demo campaign's results it reads).

Only for the demo seed (``finedge seed`` with cars or enterprises, as ``make demo`` runs it):
the tests' plain seed stays fast. Idempotent: a model is trained only while there is none
(from every launched or ended campaign; too few results is skipped, said in the report), and
the KPI credits are recomputed in place.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.marketing import kpi
from backend.marketing.models import UpliftModel
from backend.marketing.uplift import store
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation


def seed_uplift(session: Session, options) -> dict:
    if not (getattr(options, "cars", 0) or getattr(options, "enterprises", 0)):
        return {"uplift_models": 0}
    report: dict = {"uplift_models": 0}
    if session.scalar(select(UpliftModel.id).limit(1)) is None:
        started = time.perf_counter()
        try:
            with session.begin_nested():
                row = store.train(session, SYSTEM, seed=0)
        except BusinessRuleViolation as exc:
            report["uplift_skipped"] = exc.code
        else:
            held = row.metrics["held_out"]
            report.update(
                uplift_models=1,
                uplift_method=row.method,
                uplift_auuc_ratio=held["auuc_ratio"],
                uplift_seconds=round(time.perf_counter() - started, 1),
            )
    credits = kpi.compute(session, SYSTEM, utcnow())
    report["kpi_credits"] = credits["credits"]
    return report
