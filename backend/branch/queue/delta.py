"""What changed in a branch's queue since the branch room's last ``queue.update``.

Every queue change bumps the branch's queue version under the hall lock and pushes the
difference from the picture of the version before. That picture is not rebuilt: what it
showed is kept in one row per branch (``QueuePushState``), written in the same transaction as
the version, so it is exactly the last committed picture whichever process pushed it, and a
rolled-back change leaves it as it was. Per open ticket it holds a fingerprint of the ticket's
row (every column a view shows or ranks by) and its standing (position, estimated wait); per
counter a fingerprint of its view. A change is then:

- ``tickets``: open tickets that are new or whose row changed (sent whole);
- ``moved``: tickets whose row is the same but whose position or estimated wait changed
  (sent as ``standings``: id, position, wait);
- ``removed``: tickets that left the open queue (done, no-show, cancelled, expired);
- ``counters``: counters whose view changed.

Without a state of the version before (the first change after the upgrade that added it) the
change is ``full``: everything, and the room gets the whole picture once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.models import QueuePushState
from backend.branch.queue.snapshot import Snapshot, TicketRow


@dataclass
class Change:
    full: bool
    tickets: list[TicketRow] = field(default_factory=list)
    moved: list[tuple[int, rules.Estimate]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    counters: list[dict[str, Any]] = field(default_factory=list)


def fingerprint(text: str) -> int:
    """A stable 64-bit digest (the same in every process: no ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def record(
    session: Session,
    snap: Snapshot,
    branch_id: str,
    version: int,
    counters: list[dict[str, Any]],
) -> Change:
    """The change from the picture of ``version - 1`` to ``snap`` (a light snapshot: its rows
    carry ``row_text``; its counters' views are ``counters``), and ``snap`` kept as the
    picture of ``version``. Callers hold the hall lock and bumped the version."""
    row = session.scalar(select(QueuePushState).where(QueuePushState.branch_id == branch_id))
    base = json.loads(row.state) if row is not None and row.version == version - 1 else None
    tickets: dict[str, list[Any]] = {}
    for ticket in snap.tickets:
        est = snap.estimates.get(ticket.id)
        tickets[str(ticket.id)] = [
            fingerprint(ticket.row_text),
            est.position if est else None,
            est.estimated_wait_s if est else None,
        ]
    seen = {c["counter_id"]: fingerprint(repr(tuple(c.values()))) for c in counters}
    change = _diff(snap, base, tickets, seen, counters)
    state = json.dumps({"t": tickets, "c": seen}, separators=(",", ":"))
    if row is None:
        row = QueuePushState(branch_id=branch_id)
        session.add(row)
    row.version, row.state, row.updated_at = version, state, snap.now
    return change


def _diff(
    snap: Snapshot,
    base: dict[str, Any] | None,
    tickets: dict[str, list[Any]],
    seen: dict[str, int],
    counters: list[dict[str, Any]],
) -> Change:
    if base is None:
        return Change(full=True, tickets=list(snap.tickets), counters=list(counters))
    was_t, was_c = base["t"], base["c"]
    change = Change(full=False)
    for ticket in snap.tickets:
        now, was = tickets[str(ticket.id)], was_t.get(str(ticket.id))
        if was is None or was[0] != now[0]:
            change.tickets.append(ticket)
        elif was[1:] != now[1:]:
            change.moved.append((ticket.id, snap.estimates[ticket.id]))
    change.removed = sorted(int(i) for i in was_t.keys() - tickets.keys())
    change.counters = [c for c in counters if was_c.get(c["counter_id"]) != seen[c["counter_id"]]]
    return change
