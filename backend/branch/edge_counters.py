"""The hall's counter map for the branch edge: what its offline queue (edge/localqueue.py)
needs to call by the counters' skills while the uplink is down.

``counter_map(session, branch_id)`` answers ``[{"counter_id", "skills", "caller_id"}]``: each
counter's effective skills (its own plus those lent to it while another counter's device is
offline) and the caller device at it; None for a branch without counters (its edge keeps first
come, first served). The device hub publishes it retained to the edge (``edge.counters`` on
``fe/v1/{branch}/edge/{edge_id}/config/counters``, docs/iot.md) at start and whenever it changes
(hooks.install registers it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.branch.queue import counters_of, effective_skills


def counter_map(session: Session, branch_id: str) -> list[dict[str, Any]] | None:
    counters = counters_of(session, branch_id)
    if not counters:
        return None
    return [
        {"counter_id": c.counter_id, "skills": effective_skills(c), "caller_id": c.device_id}
        for c in counters
    ]
