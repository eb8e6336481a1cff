"""Marketing's declaration: the client 360, events, segments, campaigns, uplift and RM
KPIs (docs/marketing.md)."""

from __future__ import annotations

from backend.marketing.campaigns.jobs import JOBS as CAMPAIGN_JOBS
from backend.marketing.campaigns.seed import seed_campaigns
from backend.marketing.kpi_jobs import JOBS as KPI_JOBS
from backend.marketing.seed_results import seed_uplift
from backend.platform.areas import Area
from backend.platform.jobs import JobRegistry

JOBS = JobRegistry()
JOBS.merge(CAMPAIGN_JOBS)
JOBS.merge(KPI_JOBS)

AREA = Area(
    name="marketing",
    description="retail client 360, marketing events, segments, campaigns, uplift and RM KPIs",
    models=("backend.marketing.models",),
    blueprints=(
        "miniapp_api.marketing.segments",
        "miniapp_api.marketing.campaigns",
        "miniapp_api.marketing.tasks",
        "miniapp_api.marketing.messages",
        "miniapp_api.marketing.uplift",
    ),
    jobs=JOBS,
    seeders=(
        seed_campaigns,
        seed_uplift,  # after the campaign seeder: it trains on the demo campaign's results
    ),
    cli=(
        "backend.marketing.segments.cli:segments_cli",
        "backend.marketing.uplift.cli:marketing_cli",
    ),
)
