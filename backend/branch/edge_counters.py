"""The hall's counter map for the branch edge: what its offline queue (edge/localqueue.py)
needs to call by the counters' skills while the uplink is down, and the hall's timezone it
numbers its tickets by.

``counter_map(session, branch_id)`` answers ``[{"counter_id", "skills", "caller_id"}]``: each
counter's effective skills (its own plus those lent to it while another counter's device is
offline) and the caller device at it; None for a branch without counters (its edge keeps first
come, first served). The device hub publishes it retained to the edge (``edge.counters`` on
``fe/v1/{branch}/edge/{edge_id}/config/counters``, docs/iot.md) at start and whenever it changes
(offered to the device area as ``HallForDevices.counter_map``, ports.py).

``hall_timezone(session, branch_id)`` answers the hall's timezone (``BranchHall.timezone``, the
default of a new hall when the branch has no hall row yet), sent in the same message: the edge
numbers kiosk tickets by the branch's local day, the day by which reconcile.py names them
(``halls.local_day``), so two tickets of one local day never share a number across UTC
midnight.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch.models import DEFAULT_TIMEZONE, BranchHall
from backend.branch.queue.snapshot import counters_of, effective_skills


def counter_map(session: Session, branch_id: str) -> list[dict[str, Any]] | None:
    counters = counters_of(session, branch_id)
    if not counters:
        return None
    return [
        {"counter_id": c.counter_id, "skills": effective_skills(c), "caller_id": c.device_id}
        for c in counters
    ]


def hall_timezone(session: Session, branch_id: str) -> str:
    timezone = session.scalar(select(BranchHall.timezone).where(BranchHall.branch_id == branch_id))
    return timezone or DEFAULT_TIMEZONE
