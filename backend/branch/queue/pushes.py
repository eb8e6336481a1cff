"""What every queue change sends, after the commit. ``queue_changed`` bumps the branch's queue
version and pushes ``queue.update``:

- to the branch's staff room and admins, what changed since the version before (delta.py;
  the whole picture only when no earlier one is known), rendered by ``QueueUpdateOut``;
- to each client whose ticket changed (its row, or its position or estimated wait), or left
  the queue, that ticket alone: a client hears of nobody else's ticket, and a client whose
  ticket did not move hears nothing.

It also hands the displays' public board (``display.queue``) to runtime.BoardCoalescer (one a
second), and tells the device hub (the ``DeviceLink`` port's ``queue_changed``), so the branch
edge learns at once what the centre did with its kiosk tickets (edge_sync.py). A display that
comes online gets the current board (``show_board_to``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.halls import get_hall
from backend.branch.models import BranchHall
from backend.branch.queue import delta, presence
from backend.branch.queue.snapshot import Snapshot, snapshot, tickets_by_id
from backend.branch.queue.views import (
    board,
    counters_view,
    queue_delta,
    queue_picture,
    services_view,
    ticket_view,
)
from backend.branch.runtime import Hall
from backend.platform import changes
from backend.platform.after_commit import after_commit
from backend.platform.clock import isoformat
from backend.platform.live import rooms_for
from backend.platform.ports import DeviceLink
from backend.platform.wiring import port


def active_displays(session: Session, branch_id: str) -> list[str]:
    return [
        d.device_id
        for d in devices_port.devices_of(session, branch_id, "display")
        if d.status == "active"
    ]


def show_board_to(
    session: Session, hall: Hall, branch_id: str, device_id: str, now: datetime
) -> str:
    """A display came online (its birth): it gets the current board after the commit."""
    version = session.scalar(
        select(BranchHall.queue_version).where(BranchHall.branch_id == branch_id)
    )
    snap = snapshot(session, branch_id, now)
    shown = board(snap, version or 0, services_view(snap), counters_view(snap))
    hall.show_board(session, branch_id, shown["version"], shown, [device_id])
    return "board_sent"


def queue_changed(session: Session, hall: Hall, branch_id: str, now: datetime) -> Snapshot:
    """Bump the branch's queue version and push what changed (after commit); the snapshot
    of the queue as it now is, for the caller's answer."""
    row = get_hall(session, branch_id)
    row.queue_version += 1
    row.updated_at = now
    changes.touch(session, branch_id, "hall")  # device hubs in other processes re-read it
    session.flush()
    version = row.queue_version
    snap = snapshot(session, branch_id, now, light=True)
    services, counters = services_view(snap), counters_view(snap)
    change = delta.record(session, snap, branch_id, version, counters)
    if change.full:
        whole = snapshot(session, branch_id, now)
        rows = {t.id: t for t in whole.tickets}
        update: dict[str, Any] = {
            **queue_picture(whole, branch_id, version, services=services, counters=counters),
            "kind": "full",
        }
    else:
        moved = {i for i, _est in change.moved}
        told = [t.id for t in snap.tickets if t.id in moved and t.client_user_id is not None]
        wanted = [*(t.id for t in change.tickets), *told, *change.removed]
        rows = {t.id: t for t in tickets_by_id(session, wanted)}
        update = queue_delta(
            snap,
            branch_id,
            version,
            services=services,
            counters=change.counters,
            tickets=[rows[t.id] for t in change.tickets],
            moved=change.moved,
            removed=change.removed,
        )
    hall.emit(session, "queue.update", update, rooms_for(branches=[branch_id], roles=["admin"]))
    for ticket in sorted(rows.values(), key=lambda t: t.id):  # changed, moved or gone
        if ticket.client_user_id is not None:
            hall.emit(
                session,
                "queue.update",
                {"branch_id": branch_id, "version": version, "ticket": ticket_view(ticket, snap)},
                rooms_for(users=[ticket.client_user_id]),
            )
    displays = active_displays(session, branch_id) if hall.send_command is not None else []
    if displays:
        shown = board(snap, version, services, counters)
        hall.show_board(session, branch_id, version, shown, displays)
    link = port(session, DeviceLink)
    after_commit(session, lambda: link.queue_changed(branch_id), key=("edge.queue_sync", branch_id))
    return snap


PRESENCE_COMMAND = "display.presence"


def push_presence_codes(session: Session, hall: Hall, now: datetime) -> int:
    """Job (every ``presence.STEP_S``): each branch's active hall displays are sent the
    branch's current check-in code (``display.presence {code, qr, valid_until}``), which they
    show as a QR code. Sent every step, the code shown is always one still accepted (a code
    is accepted until one step after its own). Returns the displays sent to."""
    if hall.send_command is None:
        return 0
    sent = 0
    for branch_id in session.scalars(select(BranchHall.branch_id).order_by(BranchHall.branch_id)):
        displays = active_displays(session, branch_id)
        if not displays:
            continue
        current = presence.current_code(hall.key(), branch_id, now)
        args = {
            "code": current.code,
            "qr": current.qr,
            "valid_until": isoformat(current.valid_until),
        }
        for device_id in displays:
            hall.command(session, device_id, PRESENCE_COMMAND, args)
        sent += len(displays)
    return sent
