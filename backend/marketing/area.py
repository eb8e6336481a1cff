"""Marketing's declaration: the client 360, events, segments, campaigns, uplift and RM
KPIs (docs/marketing.md)."""

from __future__ import annotations

from backend.marketing.kpi_jobs import JOBS as KPI_JOBS
from backend.marketing.uplift.seed import seed_uplift
from backend.platform.areas import Area
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()
JOBS.merge(KPI_JOBS)

AREA = Area(
    name="marketing",
    description="retail client 360, marketing events, segments, campaigns, uplift and RM KPIs",
    models=("backend.marketing.models",),
    blueprints=(
        "miniapp_api.marketing.segments",
        "miniapp_api.marketing.uplift",
    ),
    jobs=JOBS,
    seeders=(
        seed_uplift,  # after the campaign seeder: it trains on the demo campaign's results
    ),
    cli=(
        "backend.marketing.segments.cli:segments_cli",
        "backend.marketing.uplift.cli:marketing_cli",
    ),
)
