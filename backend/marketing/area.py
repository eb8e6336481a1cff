"""Marketing's declaration: the client 360, events, segments, campaigns, RM tasks, uplift and
KPIs (docs/marketing.md)."""

from __future__ import annotations

from backend.platform.areas import Area

AREA = Area(
    name="marketing",
    description="retail client 360, marketing events, segments, campaigns, uplift and RM KPIs",
    models=("backend.marketing.models",),
    blueprints=("miniapp_api.marketing.segments",),
    cli=("backend.marketing.segments.cli:segments_cli",),
)
