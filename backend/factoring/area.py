"""Digital factoring's declaration (数字保理): agreements, payables and their split and
transferred parts, rule-decided financing, maturity, settlement and overdue reporting."""

from __future__ import annotations

from backend.factoring.exposure import FactoringExposurePort
from backend.factoring.jobs import JOBS
from backend.factoring.seed import seed_factoring
from backend.platform.areas import Area, Provide
from backend.platform.ports import DisbursementGate, FactoringExposure, RiskEvents

AREA = Area(
    name="factoring",
    description="digital factoring: confirmed payables of core enterprises, split, transferred "
    "and financed in seconds",
    models=("backend.factoring.models",),
    blueprints=("miniapp_api.factoring",),
    jobs=JOBS,
    seeders=(seed_factoring,),
    provides=(Provide(FactoringExposure, lambda _wiring: FactoringExposurePort()),),
    needs=(DisbursementGate, RiskEvents),
)
