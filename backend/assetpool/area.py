"""The digital asset pool's declaration (数字产品池): enterprises pledge e-bills, e-deposits and
margin cash and have new acceptance bills issued against the pool's capacity."""

from __future__ import annotations

from backend.assetpool.jobs import JOBS
from backend.assetpool.seed import seed_assetpool
from backend.platform.areas import Area
from backend.platform.ports import DisbursementGate, RiskEvents

AREA = Area(
    name="assetpool",
    description="digital asset pool: pledged e-bills, e-deposits, margin; bills against capacity",
    models=("backend.assetpool.models",),
    blueprints=("miniapp_api.assetpool",),
    jobs=JOBS,
    seeders=(seed_assetpool,),
    benchmarks={"assetpool": "bench.assetpool"},
    needs=(DisbursementGate, RiskEvents),
)
