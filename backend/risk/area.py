"""Risk early warning's declaration: multi-source enterprise risk, graded signals, the warning
workflow that blocks disbursement, the enterprise knowledge graph."""

from __future__ import annotations

from backend.platform.areas import Area, LiveEvent, Provide
from backend.platform.live import Audience
from backend.platform.ports import DisbursementGate, RiskEvents
from backend.risk.jobs import JOBS
from backend.risk.ports import RiskPort
from backend.risk.seed import seed_risk

AREA = Area(
    name="risk",
    description="risk early warning: risk view, tags, rules and model signals, graph",
    models=("backend.risk.models",),
    blueprints=("miniapp_api.risk",),
    jobs=JOBS,
    cli=("backend.risk.cli:risk_cli",),
    seeders=(seed_risk,),
    benchmarks={
        "graph": "bench.graph",
        "risk-scan": "bench.risk_scan",
        "risk-backtest": "bench.risk_backtest",
    },
    live_events=(
        LiveEvent(
            "risk.signal",
            "miniapp_api.risk:SignalEventOut",
            audience="the enterprise's RM and every approver",
            # REST: admins and approvers see every signal, an RM their enterprises' (access.py)
            rule=Audience(users=True, roles=("admin", "approver")),
        ),
    ),
    provides=(
        Provide(DisbursementGate, lambda _wiring: RiskPort()),
        Provide(RiskEvents, lambda _wiring: RiskPort()),
    ),
)
