"""Re-routing when a counter's device goes offline (its death on the ``state`` channel): the
open counter becomes ``offline``, the client it was serving goes back to the queue with the
transfer boost, and each of its services that no other open counter offers is lent to the open
counter with the fewest skills until the device is back (its birth): then the counter reopens
and the lent services return.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.branch.halls import lock_hall
from backend.branch.queue.pushes import queue_changed
from backend.branch.queue.serving import close_shift, end_current, open_shift
from backend.branch.queue.snapshot import counters_of, effective_skills
from backend.branch.runtime import Hall
from backend.platform import audit
from backend.platform.context import SYSTEM


def counter_device_offline(
    session: Session, hall: Hall, branch_id: str, device_id: str, now: datetime
) -> list[str]:
    """The device of a counter went offline: re-route its client and its services."""
    lock_hall(session, branch_id)
    counters = counters_of(session, branch_id)
    gone = [c for c in counters if c.device_id == device_id and c.status == "open"]
    for counter in gone:
        end_current(session, counter, now, "rerouted")
        close_shift(session, counter, now)
        counter.status, counter.updated_at = "offline", now
        others = [c for c in counters if c.status == "open" and c is not counter]
        for skill in counter.skills or []:
            if not others or any(skill in effective_skills(c) for c in others):
                continue
            helper = min(others, key=lambda c: (len(effective_skills(c)), c.counter_id))
            helper.borrowed_skills = [
                *(helper.borrowed_skills or []),
                {"service": skill, "from": counter.counter_id},
            ]
        audit.record(
            session,
            SYSTEM,
            "branch.counter_offline",
            "branch_counter",
            f"{branch_id}/{counter.counter_id}",
            {"status": "open"},
            {"status": "offline"},
        )
    if gone:
        queue_changed(session, hall, branch_id, now)
    return [c.counter_id for c in gone]


def counter_device_online(
    session: Session, hall: Hall, branch_id: str, device_id: str, now: datetime
) -> list[str]:
    """The device is back: the counter reopens and lent services return."""
    lock_hall(session, branch_id)
    counters = counters_of(session, branch_id)
    back = [c for c in counters if c.device_id == device_id and c.status == "offline"]
    for counter in back:
        counter.status, counter.updated_at = "open", now
        open_shift(session, counter, now)
        for other in counters:
            kept = [b for b in other.borrowed_skills or [] if b.get("from") != counter.counter_id]
            if kept != list(other.borrowed_skills or []):
                other.borrowed_skills = kept
        audit.record(
            session,
            SYSTEM,
            "branch.counter_online",
            "branch_counter",
            f"{branch_id}/{counter.counter_id}",
            {"status": "offline"},
            {"status": "open"},
        )
    if back:
        queue_changed(session, hall, branch_id, now)
    return [c.counter_id for c in back]
