"""Risk early warning, the read side: what the HTTP API shows (never writes).  Every function
takes the session and the acting user: reading risk data needs the admin, approver or rm role,
and an RM sees only the enterprises assigned to them (backend/risk/access.py).

- ``signals``: signal listings, one signal with evidence and reviews, the inbox;
- ``enterprises``: enterprise listing, the unified risk view, events with provenance;
- ``graph``: an enterprise's related parties (``MAX_DEPTH`` hops at most);
- ``runs``: feed loads, full scans, the model registry;
- ``resolution``: the review queue of records naming unknown enterprises; aliases;
- ``replay``: rulesets in force, backtests, champion/challenger promotions;
- ``shapes``: the plain dicts the above (and the write side's answers) are made of.

The write side is ``backend.risk.service``."""

from backend.risk.queries.enterprises import get_enterprise_view, list_enterprises, list_events
from backend.risk.queries.graph import MAX_DEPTH, get_enterprise_graph
from backend.risk.queries.replay import (
    get_backtest,
    list_backtests,
    list_promotions,
    list_rulesets,
)
from backend.risk.queries.resolution import list_aliases, list_resolution_items
from backend.risk.queries.runs import get_scan, list_feed_runs, list_models, list_scans
from backend.risk.queries.signals import (
    get_signal,
    list_inbox,
    list_signals,
    signal_listing,
    unread_count,
    validate_filters,
)

__all__ = [
    "MAX_DEPTH",
    "get_backtest",
    "get_enterprise_graph",
    "get_enterprise_view",
    "get_scan",
    "get_signal",
    "list_aliases",
    "list_backtests",
    "list_enterprises",
    "list_events",
    "list_feed_runs",
    "list_inbox",
    "list_models",
    "list_promotions",
    "list_resolution_items",
    "list_rulesets",
    "list_scans",
    "list_signals",
    "signal_listing",
    "unread_count",
    "validate_filters",
]
