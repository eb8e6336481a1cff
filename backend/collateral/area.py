"""Collateral's declaration: the property registry, online valuation (AVM), the model
registry, batch revaluation, LTV monitoring and the quarterly accuracy study."""

from __future__ import annotations

from backend.collateral.monitoring.jobs import JOBS as MONITORING_JOBS
from backend.collateral.monitoring.seed import seed_monitoring
from backend.collateral.seed import seed_avm
from backend.collateral.seed_registry import seed_registry
from backend.platform.areas import Area
from backend.platform.ports import FactoringExposure, FloorplanExposure, RiskEvents

AREA = Area(
    name="collateral",
    description="residential property valuation (AVM), collateral registry and LTV monitoring",
    models=("backend.collateral.models",),
    blueprints=(
        "miniapp_api.collateral.valuations",
        "miniapp_api.collateral.registry",
        "miniapp_api.collateral_monitoring",
    ),
    jobs=MONITORING_JOBS,
    seeders=(
        seed_avm,
        seed_registry,
        seed_monitoring,
    ),
    cli=(
        "backend.collateral.cli:collateral_cli",
        "backend.collateral.monitoring.cli:monitoring_cli",
    ),
    needs=(FloorplanExposure, FactoringExposure, RiskEvents),
    benchmarks={"valuation": "bench.valuation"},
)
