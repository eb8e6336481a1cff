"""Marketing's declaration: the client 360, events, segments, campaigns, RM tasks, uplift and
KPIs (docs/marketing.md)."""

from __future__ import annotations

from backend.marketing.jobs import JOBS
from backend.marketing.seed import seed_clients
from backend.platform.areas import Area
from backend.platform.ports import HallArrivals

AREA = Area(
    name="marketing",
    description="retail client 360, marketing events, segments, campaigns, uplift and RM KPIs",
    models=("backend.marketing.models",),
    blueprints=("miniapp_api.marketing.clients",),
    jobs=JOBS,
    seeders=(seed_clients,),
    needs=(HallArrivals,),
    benchmarks={"marketing": "bench.marketing"},
    cli=("backend.marketing.events.cli:events_cli",),
)
