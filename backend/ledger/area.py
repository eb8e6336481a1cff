"""The ledger's declaration: double-entry accounts, transfers and holds for every money
movement of the bank."""

from __future__ import annotations

from backend.ledger.jobs import JOBS
from backend.platform.areas import Area

AREA = Area(
    name="ledger",
    description="double-entry ledger: accounts, transfers, two-phase holds, verification",
    models=("backend.ledger.models",),
    blueprints=("miniapp_api.ledger",),
    jobs=JOBS,
    benchmarks={"ledger": "bench.ledger"},
    cli=("backend.ledger.cli:ledger_cli",),
)
