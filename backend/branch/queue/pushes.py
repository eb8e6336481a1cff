"""What every queue change sends, after the commit: ``queue_changed`` bumps the branch's
queue version and pushes ``queue.update`` (the full picture to the branch's staff room and
admins, each client only their own ticket with its position and estimate), the public board to
the hall's active displays as ``display.queue`` (coalesced to one a second by
runtime.BoardCoalescer), and tells the device hub (the ``DeviceLink`` port's ``queue_changed``),
so the branch edge learns at once what the centre did with its kiosk tickets (edge_sync.py).
A display that comes online gets the current board (``show_board_to``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port
from backend.branch.halls import get_hall
from backend.branch.models import BranchHall
from backend.branch.queue.snapshot import Snapshot, snapshot
from backend.branch.queue.views import display_board, queue_picture, ticket_view
from backend.branch.runtime import Hall
from backend.platform.after_commit import after_commit
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
    picture = queue_picture(snapshot(session, branch_id, now), branch_id, version or 0)
    hall.show_board(session, branch_id, picture["version"], display_board(picture), [device_id])
    return "board_sent"


def queue_changed(session: Session, hall: Hall, branch_id: str, now: datetime) -> Snapshot:
    """Bump the branch's queue version and push ``queue.update`` (after commit); the snapshot
    it pushed, for the caller's answer."""
    row = get_hall(session, branch_id)
    row.queue_version += 1
    row.updated_at = now
    session.flush()
    snap = snapshot(session, branch_id, now)
    picture = queue_picture(snap, branch_id, row.queue_version)
    hall.emit(session, "queue.update", picture, rooms_for(branches=[branch_id], roles=["admin"]))
    for ticket in snap.tickets:
        if ticket.client_user_id is not None:
            hall.emit(
                session,
                "queue.update",
                {
                    "branch_id": branch_id,
                    "version": row.queue_version,
                    "ticket": ticket_view(ticket, snap),
                },
                rooms_for(users=[ticket.client_user_id]),
            )
    displays = active_displays(session, branch_id) if hall.send_command is not None else []
    if displays:
        hall.show_board(session, branch_id, row.queue_version, display_board(picture), displays)
    link = port(session, DeviceLink)
    after_commit(session, lambda: link.queue_changed(branch_id), key=("edge.queue_sync", branch_id))
    return snap
