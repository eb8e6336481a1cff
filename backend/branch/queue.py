"""Soft queuing (软叫号): services, tickets, positions, estimated waits and the live pushes.

Tickets come from the mini-program (``remote``: booked from outside, held until the client
checks in at the branch), from staff (``staff``: a lobby manager issuing for a walk-in, VIP or
elderly client) and from the kiosk through the branch edge (``kiosk``, see reconcile.py).
Counters call them (counters.py). The order is rules.py's: priority with aging.

Every change locks the branch's ``BranchHall`` row first (``lock_hall``), so changes of one
branch are serialised: two counters calling at once never take the same ticket and ticket
numbers never repeat. After the change, ``queue_changed`` pushes ``queue.update``: the full
picture to the branch's staff room, each client's own position to that client; and the public
board derived from that same picture (``display_board``: ticket numbers only) to the hall
displays as ``display.queue``, coalesced to one a second (runtime.BoardCoalescer). The device
hub is told too (the ``DeviceLink`` port's ``queue_changed``), so that the branch edge learns at
once what the centre did with its kiosk tickets (edge_sync.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import devices_port, rules
from backend.branch.access import (
    QUEUE_STAFF_ROLES,
    can_see_branch,
    ensure_branch,
    ensure_branch_staff,
)
from backend.branch.models import (
    BranchHall,
    ClientProfile,
    HallCounter,
    HallService,
    ServiceLeg,
    Ticket,
    TicketSequence,
)
from backend.branch.runtime import Hall, after_commit
from backend.identity.models import User
from backend.platform import audit
from backend.platform.clock import ensure_utc, isoformat
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    ValidationFailed,
)
from backend.platform.live import rooms_for
from backend.platform.ports import DeviceLink
from backend.platform.wiring import port

STATS_WINDOW = timedelta(days=14)
STATS_SAMPLES = 50
BOARD_NEXT = 3  # ticket numbers per service on the hall display's board


# --------------------------------------------------------------------------- hall and day


def get_hall(session: Session, branch_id: str, *, lock: bool = False) -> BranchHall:
    """The branch's hall row (created with defaults on first use)."""
    stmt = select(BranchHall).where(BranchHall.branch_id == branch_id)
    if lock:
        stmt = stmt.with_for_update()
    hall = session.scalar(stmt)
    if hall is None:
        from backend.platform.clock import utcnow

        hall = BranchHall(branch_id=branch_id, updated_at=utcnow())
        session.add(hall)
        session.flush()
    return hall


def lock_hall(session: Session, branch_id: str) -> BranchHall:
    return get_hall(session, branch_id, lock=True)


def local_day(hall: BranchHall, when: datetime) -> str:
    return ensure_utc(when).astimezone(ZoneInfo(hall.timezone)).date().isoformat()


def local_hour(hall: BranchHall, when: datetime) -> int:
    return ensure_utc(when).astimezone(ZoneInfo(hall.timezone)).hour


def services_of(session: Session, branch_id: str) -> dict[str, HallService]:
    rows = session.scalars(select(HallService).where(HallService.branch_id == branch_id))
    return {s.code: s for s in rows}


def counters_of(session: Session, branch_id: str) -> list[HallCounter]:
    return list(
        session.scalars(
            select(HallCounter)
            .where(HallCounter.branch_id == branch_id)
            .order_by(HallCounter.counter_id)
        )
    )


def effective_skills(counter: HallCounter) -> list[str]:
    """Own skills plus those borrowed from offline counters (re-routing)."""
    borrowed = [b["service"] for b in counter.borrowed_skills or [] if isinstance(b, dict)]
    return list(dict.fromkeys([*(counter.skills or []), *borrowed]))


# --------------------------------------------------------------------------- snapshot


@dataclass
class Snapshot:
    """The branch's open tickets and counters at one instant, with the statistics the
    estimates need; views and pushes are computed from it."""

    now: datetime
    tickets: list[Ticket]
    counters: list[HallCounter]
    services: dict[str, HallService]
    means: dict[str, float]

    @cached_property
    def queued(self) -> list[rules.QueueItem]:
        return [item(t) for t in self.tickets if t.status in rules.QUEUED_STATUSES]

    @cached_property
    def ranked(self) -> list[rules.QueueItem]:
        return rules.order(self.queued, self.now)

    @cached_property
    def counter_pairs(self) -> list[tuple[str, list[str]]]:
        return [(c.status, effective_skills(c)) for c in self.counters]

    def busy(self, service: str) -> int:
        return sum(
            1
            for c in self.counters
            if c.status == "open" and c.current_ticket_id and service in effective_skills(c)
        )

    def estimate(self, ticket: Ticket) -> rules.Estimate | None:
        if ticket.status not in rules.QUEUED_STATUSES:
            return None
        return rules.estimate(
            item(ticket),
            self.ranked,
            self.counter_pairs,
            self.means,
            self.now,
            busy=self.busy(ticket.service),
            ranked=True,
        )

    def estimate_new(self, service: str) -> rules.Estimate:
        probe = rules.QueueItem(0, service, "normal", 0, self.now, "waiting")
        return rules.estimate(
            probe,
            [*self.queued, probe],
            self.counter_pairs,
            self.means,
            self.now,
            busy=self.busy(service),
        )


def item(ticket: Ticket) -> rules.QueueItem:
    return rules.QueueItem(
        ticket.id,
        ticket.service,
        ticket.category,
        ticket.boost_s,
        ensure_utc(ticket.queued_at),
        ticket.status,
    )


def mean_service_times(
    session: Session, branch_id: str, services: dict[str, HallService], now: datetime
) -> dict[str, float]:
    """Live mean service time per service: its last STATS_SAMPLES completed calls."""
    rows = session.execute(
        select(ServiceLeg.service, ServiceLeg.called_at, ServiceLeg.ended_at)
        .where(
            ServiceLeg.branch_id == branch_id,
            ServiceLeg.ended_at >= now - STATS_WINDOW,
            ServiceLeg.outcome.in_(("done", "transferred", "returned")),
        )
        .order_by(ServiceLeg.id.desc())
        .limit(STATS_SAMPLES * max(len(services), 1))
    )
    samples: dict[str, list[float]] = {}
    for service, called_at, ended_at in rows:
        bucket = samples.setdefault(service, [])
        if len(bucket) < STATS_SAMPLES:
            bucket.append(max(0.0, (ensure_utc(ended_at) - ensure_utc(called_at)).total_seconds()))
    means = {}
    for code in rules.SERVICES:
        default = services[code].default_service_s if code in services else rules.SERVICES[code][2]
        means[code] = rules.blend_mean(samples.get(code, []), default)
    return means


def snapshot(session: Session, branch_id: str, now: datetime) -> Snapshot:
    services = services_of(session, branch_id)
    tickets = list(
        session.scalars(
            select(Ticket).where(
                Ticket.branch_id == branch_id, Ticket.status.in_(rules.OPEN_STATUSES)
            )
        )
    )
    return Snapshot(
        now=now,
        tickets=tickets,
        counters=counters_of(session, branch_id),
        services=services,
        means=mean_service_times(session, branch_id, services, now),
    )


# --------------------------------------------------------------------------- views


def ticket_view(ticket: Ticket, snap: Snapshot | None = None) -> dict[str, Any]:
    est = snap.estimate(ticket) if snap is not None else None
    return {
        "id": ticket.id,
        "branch_id": ticket.branch_id,
        "ticket_no": ticket.ticket_no,
        "service": ticket.service,
        "status": ticket.status,
        "channel": ticket.channel,
        "category": ticket.category,
        "position": est.position if est else None,
        "estimated_wait_s": est.estimated_wait_s if est else None,
        "counter_id": ticket.counter_id,
        "return_service": ticket.return_service,
        "recalls": ticket.recalls,
        "transfers": ticket.transfers,
        "issued_at": isoformat(ticket.issued_at),
        "arrived_at": isoformat(ticket.arrived_at),
        "appointment_at": isoformat(ticket.appointment_at),
        "called_at": isoformat(ticket.called_at),
        "finished_at": isoformat(ticket.finished_at),
    }


def counter_view(counter: HallCounter, tickets: dict[int, Ticket] | None = None) -> dict[str, Any]:
    current = (tickets or {}).get(counter.current_ticket_id or 0)
    return {
        "counter_id": counter.counter_id,
        "name": counter.name,
        "status": counter.status,
        "skills": list(counter.skills or []),
        "borrowed_skills": [b["service"] for b in counter.borrowed_skills or []],
        "device_id": counter.device_id,
        "serving": current.ticket_no if current is not None else None,
    }


def _services_view(snap: Snapshot) -> list[dict[str, Any]]:
    out = []
    for code, svc in sorted(snap.services.items()):
        if not svc.active:
            continue
        est = snap.estimate_new(code)
        out.append(
            {
                "service": code,
                "name": svc.name,
                "waiting": sum(
                    1 for t in snap.tickets if t.service == code and t.status == "waiting"
                ),
                "booked": sum(
                    1 for t in snap.tickets if t.service == code and t.status == "remote"
                ),
                "counters_open": est.servers,
                "mean_service_s": round(snap.means.get(code, 0.0)),
                "estimated_wait_s": est.estimated_wait_s,
            }
        )
    return out


def queue_picture(snap: Snapshot, branch_id: str, version: int) -> dict[str, Any]:
    """The staff's picture of the queue (also the ``queue.update`` of the branch room)."""
    by_id = {t.id: t for t in snap.tickets}
    ranked = snap.ranked
    return {
        "branch_id": branch_id,
        "version": version,
        "at": isoformat(snap.now),
        "services": _services_view(snap),
        "counters": [counter_view(c, by_id) for c in snap.counters],
        "tickets": [ticket_view(by_id[i.id], snap) for i in ranked],
        "serving": [ticket_view(t, snap) for t in snap.tickets if t.status == "called"],
    }


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
        "services": _services_view(snap),
        "mine": [ticket_view(t, snap) for t in mine],
    }


def display_board(picture: dict[str, Any]) -> dict[str, Any]:
    """The hall display's board (``display.queue``), from the staff picture (``queue_picture``):
    per service the tickets waiting in the hall, the next numbers in call order and the wait a
    new ticket can expect; which ticket each counter serves. A public screen: ticket numbers
    only, never a client's name or id."""
    waiting = [t for t in picture["tickets"] if t["status"] == "waiting"]
    return {
        "version": picture["version"],
        "updated_at": picture["at"],
        "services": [
            {
                "service": svc["service"],
                "letter": rules.SERVICES[svc["service"]][1],
                "waiting": svc["waiting"],
                "next": [t["ticket_no"] for t in waiting if t["service"] == svc["service"]][
                    :BOARD_NEXT
                ],
                "estimated_wait_s": svc["estimated_wait_s"],
            }
            for svc in picture["services"]
        ],
        "serving": [
            {"counter_id": c["counter_id"], "ticket_no": c["serving"]}
            for c in picture["counters"]
            if c["serving"] is not None
        ],
    }


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


# --------------------------------------------------------------------------- tickets


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


def check_in(
    session: Session,
    actor: Actor,
    hall: Hall,
    branch_id: str,
    ticket_no: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A remote ticket's client is in the hall: from now on the ticket can be called."""
    now = hall.now(now)
    ticket = find_ticket(session, actor, branch_id, ticket_no)
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
        after={"status": "waiting", "category": ticket.category},
    )
    return ticket_view(ticket, queue_changed(session, hall, branch_id, now))


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
