"""The commodity clearing service's declaration (清算通): clearing houses, traders' accounts,
signed instructions (order, bargain, cancel, delivery), daily reconciliation, gap alarms."""

from __future__ import annotations

from backend.clearing.jobs import JOBS
from backend.clearing.seed import seed_clearing
from backend.platform.areas import Area
from backend.platform.ports import RiskEvents

AREA = Area(
    name="clearing",
    description="commodity clearing: traders' funds frozen, unfrozen and paid on signed "
    "instructions of a clearing house",
    models=("backend.clearing.models",),
    blueprints=("miniapp_api.clearing",),
    jobs=JOBS,
    seeders=(seed_clearing,),
    benchmarks={"clearing": "bench.clearing"},
    needs=(RiskEvents,),
    cli=("backend.clearing.cli:clearing_cli", "backend.clearing.cli:clearing_sim_command"),
)
