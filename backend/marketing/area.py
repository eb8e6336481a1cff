"""Marketing's declaration: the client 360, events, segments, campaigns, uplift and RM
KPIs (docs/marketing.md)."""

from __future__ import annotations

from backend.marketing.campaigns.jobs import JOBS as CAMPAIGN_JOBS
from backend.marketing.campaigns.seed import seed_campaigns
from backend.marketing.jobs import JOBS as EVENT_JOBS
from backend.marketing.kpi_jobs import JOBS as KPI_JOBS
from backend.marketing.seed import seed_clients
from backend.marketing.seed_results import seed_uplift
from backend.platform.areas import Area
from backend.platform.jobs import JobRegistry
from backend.platform.ports import HallArrivals

JOBS = JobRegistry()
JOBS.merge(EVENT_JOBS)
JOBS.merge(CAMPAIGN_JOBS)
JOBS.merge(KPI_JOBS)

AREA = Area(
    name="marketing",
    description="retail client 360, marketing events, segments, campaigns, uplift and RM KPIs",
    models=("backend.marketing.models",),
    blueprints=(
        "miniapp_api.marketing.clients",
        "miniapp_api.marketing.segments",
        "miniapp_api.marketing.campaigns",
        "miniapp_api.marketing.tasks",
        "miniapp_api.marketing.messages",
        "miniapp_api.marketing.uplift",
    ),
    jobs=JOBS,
    seeders=(
        seed_clients,  # the client base, its feed, events and tags
        seed_campaigns,  # the demo's maturity-renewal campaign (after the clients)
        seed_uplift,  # after the campaign seeder: it trains on the demo campaign's results
    ),
    needs=(HallArrivals,),
    benchmarks={"marketing": "bench.marketing"},
    cli=(
        "backend.marketing.events.cli:events_cli",
        "backend.marketing.segments.cli:segments_cli",
        "backend.marketing.uplift.cli:marketing_cli",
    ),
)
