"""Collateral's declaration: the property registry, online valuation (AVM), the model
registry, batch revaluation, LTV monitoring and the quarterly accuracy study."""

from __future__ import annotations

from backend.collateral.seed import seed_avm
from backend.collateral.seed_registry import seed_registry
from backend.platform.areas import Area
from backend.platform.ports import FactoringExposure, FloorplanExposure, RiskEvents

AREA = Area(
    name="collateral",
    description="residential property valuation (AVM), collateral registry and LTV monitoring",
    models=("backend.collateral.models",),
    needs=(FloorplanExposure, FactoringExposure, RiskEvents),
    blueprints=(
        "miniapp_api.collateral.valuations",
        "miniapp_api.collateral.registry",
    ),
    seeders=(
        seed_avm,
        seed_registry,
    ),
    cli=("backend.collateral.cli:collateral_cli",),
    benchmarks={"valuation": "bench.valuation"},
)
