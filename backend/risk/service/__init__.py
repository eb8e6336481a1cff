"""Risk early warning, the write side: the use cases behind the HTTP API, the jobs and other
areas.  Every function takes the session and the acting user (where there is one) and raises
domain errors; none commits.

- ``blocking``: ``has_blocking_signal``, ``ensure_no_blocking_signal`` (other areas, before
  they lend), ``blocking_signals``;
- ``internal_events``: ``record_internal_event`` (the bank's own events, from other areas);
- ``decisions``: the maker-checker workflow on signals (``decide``, ``check``; the API's
  ``decide_signal``, ``check_signal``);
- ``inbox``: ``mark_read``; ``enterprises``: ``update_enterprise`` (RM, linked org);
- ``admin``: ``ingest_feed``, ``train_models``, ``promote_model`` (refused: promotions);
- ``resolution``: the review queue (``resolve_item``, ``reject_item``) and ``delete_alias``;
- ``promotions``: ``propose_promotion``, ``decide_promotion`` (champion/challenger with
  maker-checker and backtests side by side).

The read side is ``backend.risk.queries``."""

from backend.risk.service.admin import ingest_feed, promote_model, train_models
from backend.risk.service.blocking import (
    blocking_signals,
    ensure_no_blocking_signal,
    has_blocking_signal,
)
from backend.risk.service.decisions import check, check_signal, decide, decide_signal
from backend.risk.service.enterprises import update_enterprise
from backend.risk.service.inbox import mark_read
from backend.risk.service.internal_events import record_internal_event
from backend.risk.service.promotions import decide_promotion, propose_promotion
from backend.risk.service.resolution import delete_alias, reject_item, resolve_item

__all__ = [
    "blocking_signals",
    "check",
    "check_signal",
    "decide",
    "decide_promotion",
    "decide_signal",
    "delete_alias",
    "ensure_no_blocking_signal",
    "has_blocking_signal",
    "ingest_feed",
    "mark_read",
    "promote_model",
    "propose_promotion",
    "record_internal_event",
    "reject_item",
    "resolve_item",
    "train_models",
    "update_enterprise",
]
