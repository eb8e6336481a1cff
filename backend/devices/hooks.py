"""Extension points other areas plug into the device area.

- ``cash_task_open(session, cash_device_id, now)``: is a cash-loading task open for this cash
  machine right now (approved and inside its window, or unlocked)? The safe-door rule raises a
  critical alarm when the door opens and this answers False. The cash-task module (branch hall)
  registers its answer with ``set_cash_task_probe``; until then no task is ever open.
- uplink handlers: ``add_uplink_handler(handler)``; the ingest calls
  ``handler(session, branch_id, device_type, device_id, envelope, channel=...)`` for every new
  uplink (never for a duplicate), in arrival order, inside the transaction that stores it. A
  handler that raises is logged and skipped (it should use a SAVEPOINT for its own writes); what
  it must do after the commit (pushes, commands) it schedules itself.
- the hall's counter map for a branch edge: ``set_counter_map_provider(provider)``;
  ``provider(session, branch_id)`` answers the branch's counters as
  ``[{"counter_id", "skills", "caller_id"}]`` (None: the branch has no hall configuration).
  The hub publishes it retained to the branch's edge (``edge.counters`` on
  ``config/counters``), whose offline queue calls by those skills. The hall registers it, and
  the branch's timezone with ``set_timezone_provider(provider)``: ``provider(session,
  branch_id)`` answers an IANA name (None: unknown), sent in the same message (``"timezone"``)
  so that the edge numbers its tickets by the branch's local day, as the centre names them.
- what the centre did with a branch edge's kiosk tickets: ``set_queue_sync_provider(provider)``;
  ``provider(session, branch_id, edge_id, now)`` answers the centre's state of the tickets that
  edge issued, ``[{"ticket_no", "issued_at", "status", "service", "counter_id", "at"}]`` (None:
  nothing to sync). The hub sends it to the edge (``queue.sync`` on ``queue/sync``). The hall
  registers it, and calls ``queue_changed(branch_id)`` after each commit that changed a
  branch's queue so the hub sends the change at once (``add_queue_listener``); without the call
  the hub still finds changes by polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CashTaskProbe = Callable[[Session, str, datetime], bool]


def _no_open_task(_session: Session, _device_id: str, _now: datetime) -> bool:
    return False


_probe: CashTaskProbe = _no_open_task


def set_cash_task_probe(probe: CashTaskProbe | None) -> None:
    """Install the probe (None restores the default: no open task)."""
    global _probe
    _probe = probe or _no_open_task


def cash_task_open(session: Session, device_id: str, now: datetime) -> bool:
    return _probe(session, device_id, now)


UplinkHandler = Callable[..., object]
_uplink_handlers: list[UplinkHandler] = []


def add_uplink_handler(handler: UplinkHandler) -> None:
    """Subscribe to every new uplink (idempotent)."""
    if handler not in _uplink_handlers:
        _uplink_handlers.append(handler)


def remove_uplink_handler(handler: UplinkHandler) -> None:
    if handler in _uplink_handlers:
        _uplink_handlers.remove(handler)


def uplink_handlers() -> tuple[UplinkHandler, ...]:
    return tuple(_uplink_handlers)


CounterMapProvider = Callable[[Session, str], list[dict[str, Any]] | None]
_counter_map_provider: CounterMapProvider | None = None


def set_counter_map_provider(provider: CounterMapProvider | None) -> None:
    """Install the hall's counter map (None: no map, the edges keep their last one)."""
    global _counter_map_provider
    _counter_map_provider = provider


def counter_map(session: Session, branch_id: str) -> list[dict[str, Any]] | None:
    provider = _counter_map_provider
    return provider(session, branch_id) if provider is not None else None


TimezoneProvider = Callable[[Session, str], str | None]
_timezone_provider: TimezoneProvider | None = None


def set_timezone_provider(provider: TimezoneProvider | None) -> None:
    """Install the hall's answer for a branch's timezone (None: the edges keep their own)."""
    global _timezone_provider
    _timezone_provider = provider


def branch_timezone(session: Session, branch_id: str) -> str | None:
    provider = _timezone_provider
    return provider(session, branch_id) if provider is not None else None


QueueSyncProvider = Callable[[Session, str, str, datetime], list[dict[str, Any]] | None]
_queue_sync_provider: QueueSyncProvider | None = None
QueueListener = Callable[[str], None]
_queue_listeners: list[QueueListener] = []


def set_queue_sync_provider(provider: QueueSyncProvider | None) -> None:
    """Install the hall's answer for the edges' tickets (None: nothing is synced)."""
    global _queue_sync_provider
    _queue_sync_provider = provider


def queue_sync(
    session: Session, branch_id: str, edge_id: str, now: datetime
) -> list[dict[str, Any]] | None:
    provider = _queue_sync_provider
    return provider(session, branch_id, edge_id, now) if provider is not None else None


def add_queue_listener(listener: QueueListener) -> None:
    """Be told (``listener(branch_id)``) when a branch's queue changed (idempotent)."""
    if listener not in _queue_listeners:
        _queue_listeners.append(listener)


def remove_queue_listener(listener: QueueListener) -> None:
    if listener in _queue_listeners:
        _queue_listeners.remove(listener)


def queue_changed(branch_id: str) -> None:
    """A committed change of the branch's queue (the hall calls it after the commit)."""
    for listener in tuple(_queue_listeners):
        try:
            listener(branch_id)
        except Exception:  # a listener must never fail the caller's committed change
            log.exception("device hooks: queue listener failed for %s", branch_id)
