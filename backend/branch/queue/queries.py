"""The queue's read side: the queue as the caller may see it (staff of the branch: every
ticket in call order and the counters; a client: the per-service summary and their own
tickets) and one ticket with its position and estimated wait. Reads only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.access import can_see_branch, ensure_branch
from backend.branch.halls import get_hall
from backend.branch.models import HallCounter, HallService, Ticket
from backend.branch.queue import presence
from backend.branch.queue.snapshot import snapshot
from backend.branch.queue.views import queue_picture, services_view, ticket_view
from backend.platform.clock import isoformat
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate


def queue_view(session: Session, actor: Actor, branch_id: str, now: datetime) -> dict[str, Any]:
    """Staff of the branch: everything. A client: the public summary and their own tickets."""
    ensure_branch(session, actor, branch_id, public=True)
    hall = get_hall(session, branch_id)
    snap = snapshot(session, branch_id, now)
    if can_see_branch(actor, branch_id):
        return queue_picture(snap, branch_id, hall.queue_version)
    mine = [t for t in snap.tickets if t.client_user_id == actor.user_id]
    return {
        "branch_id": branch_id,
        "version": hall.queue_version,
        "at": isoformat(now),
        "services": services_view(snap),
        "mine": [ticket_view(t, snap) for t in mine],
    }


MY_TICKETS_SINCE = timedelta(hours=24)


def my_tickets(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[Page, list[dict[str, Any]]]:
    """The caller's own tickets at every branch, newest first: those still open (remote,
    waiting, called) and those that ended within the last 24 h (a client's "my tickets"; staff
    hold none). Open ones carry their position and estimated wait (one queue snapshot per
    branch on the page)."""
    recent = now - MY_TICKETS_SINCE
    stmt = select(Ticket).where(
        Ticket.client_user_id == actor.user_id,
        (Ticket.status.in_(rules.OPEN_STATUSES)) | (Ticket.issued_at >= recent),
    )
    page = paginate(session, stmt, Ticket.id, limit=limit, cursor=cursor, descending=True)
    snaps = {
        b: snapshot(session, b, now)
        for b in sorted({t.branch_id for t in page.items if t.status in rules.OPEN_STATUSES})
    }
    return page, [ticket_view(t, snaps.get(t.branch_id)) for t in page.items]


def find_ticket(
    session: Session, actor: Actor, branch_id: str, ticket_no: str, *, day: str | None = None
) -> Ticket:
    """Today's ticket by number (or ``day``'s); a client sees only their own."""
    ensure_branch(session, actor, branch_id, public=True)
    stmt = select(Ticket).where(Ticket.branch_id == branch_id, Ticket.ticket_no == ticket_no)
    if day is not None:
        stmt = stmt.where(Ticket.day == day)
    ticket = session.scalar(stmt.order_by(Ticket.id.desc()).limit(1))
    visible = ticket is not None and (
        can_see_branch(actor, branch_id)
        or (actor.role == "client" and ticket.client_user_id == actor.user_id)
    )
    if not visible:
        raise NotFound("ticket not found", code="ticket_not_found")
    return ticket


def get_ticket(
    session: Session, actor: Actor, branch_id: str, ticket_no: str, now: datetime
) -> dict[str, Any]:
    ticket = find_ticket(session, actor, branch_id, ticket_no)
    return ticket_view(ticket, snapshot(session, branch_id, now))


def presence_code(
    session: Session, actor: Actor, secret_key: str, branch_id: str, now: datetime
) -> dict[str, Any]:
    """The branch's current check-in code, for its hall display (the branch's staff and
    admins; a client never reads it here: it has to be in the hall to see it)."""
    ensure_branch(session, actor, branch_id)
    current = presence.current_code(secret_key, branch_id, now)
    return {
        "branch_id": branch_id,
        "code": current.code,
        "qr": current.qr,
        "valid_from": isoformat(current.valid_from),
        "shown_until": isoformat(current.shown_until),
        "valid_until": isoformat(current.valid_until),
    }


def live_counts(session: Session, branch_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For a page of branches (the clients' branch list), per offered service: tickets
    waiting in the hall, tickets booked remotely not yet checked in, counters open for it.
    Three grouped queries whatever the page's size, no queue snapshot: the estimate of one
    branch's wait is ``GET /branches/{b}/queue``."""
    if not branch_ids:
        return {}
    counts: dict[tuple[str, str, str], int] = {}
    for branch_id, service, status, n in session.execute(
        select(Ticket.branch_id, Ticket.service, Ticket.status, func.count())
        .where(Ticket.branch_id.in_(branch_ids), Ticket.status.in_(("waiting", "remote")))
        .group_by(Ticket.branch_id, Ticket.service, Ticket.status)
    ):
        counts[branch_id, service, status] = n
    serving: dict[tuple[str, str], int] = {}
    for branch_id, skills, borrowed in session.execute(
        select(HallCounter.branch_id, HallCounter.skills, HallCounter.borrowed_skills).where(
            HallCounter.branch_id.in_(branch_ids), HallCounter.status == "open"
        )
    ):
        for code in {*(skills or ()), *(borrowed or ())}:
            serving[branch_id, code] = serving.get((branch_id, code), 0) + 1
    out: dict[str, list[dict[str, Any]]] = {b: [] for b in branch_ids}
    for branch_id, code, name in session.execute(
        select(HallService.branch_id, HallService.code, HallService.name)
        .where(HallService.branch_id.in_(branch_ids), HallService.active.is_(True))
        .order_by(HallService.branch_id, HallService.code)
    ):
        out[branch_id].append(
            {
                "service": code,
                "name": name,
                "waiting": counts.get((branch_id, code, "waiting"), 0),
                "booked": counts.get((branch_id, code, "remote"), 0),
                "counters_open": serving.get((branch_id, code), 0),
            }
        )
    return out
