"""Tickets: a client books remotely (``remote``, held until they check in at the branch, and
expired after the hall's remote-ticket lifetime without check-in), staff issue for a client in
the hall (``staff``: a lobby manager for a walk-in, VIP or elderly client, with a category),
and either gives a ticket up. Numbers are daily per prefix, by the branch's local day
(``next_number``); kiosk tickets come from the branch edge (reconcile.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.access import QUEUE_STAFF_ROLES, ensure_branch, ensure_branch_staff
from backend.branch.halls import local_day, lock_hall
from backend.branch.models import BranchHall, ClientProfile, HallService, Ticket, TicketSequence
from backend.branch.queue import presence
from backend.branch.queue.pushes import queue_changed
from backend.branch.queue.queries import find_ticket
from backend.branch.queue.snapshot import services_of, snapshot
from backend.branch.queue.views import ticket_view
from backend.branch.runtime import Hall
from backend.identity.models import User
from backend.platform import audit
from backend.platform.clock import ensure_utc
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed


def _profile_category(session: Session, user_id: int | None) -> str:
    if user_id is None:
        return "normal"
    profile = session.scalar(select(ClientProfile).where(ClientProfile.user_id == user_id))
    if profile is None:
        return "normal"
    if profile.segment == "vip":
        return "vip"
    return "elderly" if profile.elderly else "normal"


def next_number(session: Session, branch_id: str, day: str, prefix: str) -> int:
    """The next daily number for ``prefix`` (callers hold the hall lock)."""
    seq = session.scalar(
        select(TicketSequence)
        .where(
            TicketSequence.branch_id == branch_id,
            TicketSequence.day == day,
            TicketSequence.prefix == prefix,
        )
        .with_for_update()
    )
    if seq is None:
        seq = TicketSequence(branch_id=branch_id, day=day, prefix=prefix, last=0)
        session.add(seq)
    seq.last += 1
    session.flush()
    return seq.last


def _service(session: Session, branch_id: str, code: str) -> HallService:
    svc = services_of(session, branch_id).get(code)
    if svc is None or not svc.active:
        raise BusinessRuleViolation(
            f"service {code!r} is not offered at {branch_id}",
            code="service_not_offered",
            details={"service": [f"one of {', '.join(services_of(session, branch_id))}"]},
        )
    return svc


def issue_ticket(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    service: str,
    *,
    appointment_at: datetime | None = None,
    category: str | None = None,
    client_id: int | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A client books remotely (held until check-in); staff issue for a client in the hall."""
    now = hall.now(now)
    if service not in rules.SERVICES:
        raise ValidationFailed(
            "unknown service", details={"service": [f"one of {', '.join(rules.SERVICES)}"]}
        )
    if actor.role == "client":
        ensure_branch(session, actor, branch_id, public=True)
        if category is not None or client_id is not None:
            raise ValidationFailed(
                "category and client_id are set by staff",
                details={"category": ["set by staff"]},
            )
        channel, client_user_id = "remote", actor.user_id
        base = _profile_category(session, actor.user_id)
    else:
        ensure_branch_staff(session, actor, branch_id, *QUEUE_STAFF_ROLES)
        channel, client_user_id = "staff", client_id
        if client_id is not None:
            client = session.get(User, client_id)
            if client is None or client.role != "client":
                raise NotFound("client not found", code="client_not_found")
        base = category or _profile_category(session, client_id)
        if base not in rules.CATEGORIES:
            raise ValidationFailed("unknown category", details={"category": list(rules.CATEGORIES)})
    row = lock_hall(session, branch_id)
    _service(session, branch_id, service)
    if request_id is not None:
        existing = session.scalar(
            select(Ticket).where(Ticket.branch_id == branch_id, Ticket.request_id == request_id)
        )
        if existing is not None:
            return ticket_view(existing, snapshot(session, branch_id, now))
    day = local_day(row, now)
    if client_user_id is not None:
        open_same = session.scalar(
            select(Ticket).where(
                Ticket.branch_id == branch_id,
                Ticket.client_user_id == client_user_id,
                Ticket.service == service,
                Ticket.status.in_(rules.OPEN_STATUSES),
            )
        )
        if open_same is not None:
            raise Conflict(
                f"an open {service} ticket exists: {open_same.ticket_no}",
                code="open_ticket_exists",
                details={"ticket_no": open_same.ticket_no},
            )
    prefix = rules.ticket_prefix(service, channel)
    number = next_number(session, branch_id, day, prefix)
    in_hall = channel != "remote"
    ticket = Ticket(
        branch_id=branch_id,
        day=day,
        ticket_no=rules.format_ticket_no(prefix, number),
        service=service,
        original_service=service,
        channel=channel,
        category=rules.arrival_category(base, appointment_at, now) if in_hall else base,
        boost_s=0,
        status="waiting" if in_hall else "remote",
        client_user_id=client_user_id,
        request_id=request_id,
        source="central",
        issued_at=now,
        queued_at=now,
        arrived_at=now if in_hall else None,
        appointment_at=appointment_at,
        updated_at=now,
    )
    if base == "appointment" and in_hall:
        ticket.category = "appointment"
    session.add(ticket)
    session.flush()
    audit.record(
        session,
        actor,
        "branch.ticket_issued",
        "branch_ticket",
        ticket.id,
        after={
            "ticket_no": ticket.ticket_no,
            "service": service,
            "channel": channel,
            "category": ticket.category,
        },
    )
    return ticket_view(ticket, queue_changed(session, hall, branch_id, now))


def check_in(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    ticket_no: str,
    now: datetime | None = None,
    *,
    presence_code: str | None = None,
) -> dict[str, Any]:
    """A remote ticket's client is in the hall: from now on the ticket can be called.

    A client proves it with the branch's current check-in code (``presence_code``, from the
    QR code on the hall display: queue/presence.py); the branch's queue staff check a client
    in beside them without one."""
    now = hall.now(now)
    ticket = find_ticket(session, actor, branch_id, ticket_no)
    proof = _presence(session, actor, hall, branch_id, presence_code, now)
    row = lock_hall(session, branch_id)
    session.refresh(ticket)
    if ticket.status == "waiting":
        return ticket_view(ticket, snapshot(session, branch_id, now))
    if ticket.status != "remote":
        raise BusinessRuleViolation(f"ticket is {ticket.status}", code="ticket_not_remote")
    if now > ensure_utc(ticket.issued_at) + timedelta(seconds=row.remote_ticket_ttl_s):
        ticket.status, ticket.finished_at, ticket.updated_at = "expired", now, now
        audit.record(session, actor, "branch.ticket_expired", "branch_ticket", ticket.id)
        queue_changed(session, hall, branch_id, now)
        raise BusinessRuleViolation("remote ticket expired", code="ticket_expired")
    ticket.status = "waiting"
    ticket.arrived_at = now
    ticket.category = rules.arrival_category(ticket.category, ticket.appointment_at, now)
    ticket.updated_at = now
    audit.record(
        session,
        actor,
        "branch.ticket_checked_in",
        "branch_ticket",
        ticket.id,
        before={"status": "remote"},
        after={"status": "waiting", "category": ticket.category, "presence": proof},
    )
    return ticket_view(ticket, queue_changed(session, hall, branch_id, now))


def _presence(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    code: str | None,
    now: datetime,
) -> str:
    """How the caller proves being in the hall: ``qr`` (the branch's current code) or
    ``staff`` (the branch's queue staff); else 400 presence_code_required or 422
    presence_code_invalid (expired, another branch's, or made up), nothing changed."""
    if actor.role != "client":
        ensure_branch_staff(session, actor, branch_id, *QUEUE_STAFF_ROLES)
        return "staff"
    if not code:
        raise ValidationFailed(
            "check in with the code of the QR code on the branch's hall display",
            code="presence_code_required",
            details={"presence_code": ["scan the QR code shown in the branch's hall"]},
        )
    if not presence.is_valid(hall.key(), branch_id, code, now):
        raise BusinessRuleViolation(
            "this is not the branch's current check-in code: scan the QR code in the hall again",
            code="presence_code_invalid",
            details={"presence_code": ["expired, or not this branch's"]},
        )
    return "qr"


def cancel_ticket(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    ticket_no: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = hall.now(now)
    ticket = find_ticket(session, actor, branch_id, ticket_no)
    lock_hall(session, branch_id)
    session.refresh(ticket)
    if ticket.status not in rules.QUEUED_STATUSES:
        raise BusinessRuleViolation(f"ticket is {ticket.status}", code="ticket_not_waiting")
    before = ticket.status
    ticket.status, ticket.finished_at, ticket.updated_at = "cancelled", now, now
    audit.record(
        session,
        actor,
        "branch.ticket_cancelled",
        "branch_ticket",
        ticket.id,
        before={"status": before},
        after={"status": "cancelled"},
    )
    queue_changed(session, hall, branch_id, now)
    return ticket_view(ticket)


def expire_remote_tickets(session: Session, hall: Hall, now: datetime) -> int:
    """Remote tickets never checked in within the hall's lifetime expire (job)."""
    expired = 0
    halls = list(session.scalars(select(BranchHall)))
    for row in halls:
        cutoff = now - timedelta(seconds=row.remote_ticket_ttl_s)
        stale = list(
            session.scalars(
                select(Ticket).where(
                    Ticket.branch_id == row.branch_id,
                    Ticket.status == "remote",
                    Ticket.issued_at < cutoff,
                )
            )
        )
        if not stale:
            continue
        lock_hall(session, row.branch_id)
        for ticket in stale:
            ticket.status, ticket.finished_at, ticket.updated_at = "expired", now, now
        expired += len(stale)
        queue_changed(session, hall, row.branch_id, now)
    return expired
