"""The robot factory's declaration: registry, queues, workers, monitoring (docs/rpa.md)."""

from __future__ import annotations

from backend.platform.areas import Area
from backend.rpa.jobs import JOBS
from backend.rpa.seed import seed_rpa

AREA = Area(
    name="rpa",
    description="the robot factory: robots deployed, scheduled, run by workers and monitored",
    models=("backend.rpa.models",),
    blueprints=("miniapp_api.rpa.robots", "miniapp_api.rpa.monitor"),
    jobs=JOBS,
    seeders=(seed_rpa,),
    benchmarks={"rpa": "bench.rpa"},
    cli=("backend.rpa.cli:rpa_cli", "robots.legacy_app.cli:legacy_cli"),
)
