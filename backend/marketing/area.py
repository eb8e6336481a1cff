"""Marketing's declaration: the client 360, events, segments, campaigns, RM tasks, uplift and
KPIs (docs/marketing.md)."""

from __future__ import annotations

from backend.marketing.campaigns.jobs import JOBS as CAMPAIGN_JOBS
from backend.marketing.campaigns.seed import seed_campaigns
from backend.platform.areas import Area

AREA = Area(
    name="marketing",
    description="retail client 360, marketing events, segments, campaigns, uplift and RM KPIs",
    models=("backend.marketing.models",),
    blueprints=(
        "miniapp_api.marketing.campaigns",
        "miniapp_api.marketing.tasks",
        "miniapp_api.marketing.messages",
    ),
    jobs=CAMPAIGN_JOBS,
    seeders=(seed_campaigns,),
)
