"""The queue as staff, clients and the hall displays see it, shaped from a snapshot: a ticket
(with its position and estimated wait), a counter, the per-service summary, the staff's
picture of the whole queue (GET, and the branch room's first ``queue.update``), the change
since the last picture (the branch room's ``queue.update`` delta, delta.py says what changed)
and the displays' public board (``display.queue``: ticket numbers only). Pure: no session, no
access checks.
"""

from __future__ import annotations

from typing import Any

from backend.branch import rules
from backend.branch.models import HallCounter
from backend.branch.queue import standings
from backend.branch.queue.snapshot import Snapshot, TicketRow, item
from backend.platform.clock import isoformat

BOARD_NEXT = 3  # ticket numbers per service on the hall display's board


def ticket_view(ticket: TicketRow, snap: Snapshot | None = None) -> dict[str, Any]:
    est = snap.estimate(ticket) if snap is not None else None
    return {
        **own_view(ticket),
        "position": est.position if est else None,
        "estimated_wait_s": est.estimated_wait_s if est else None,
    }


def own_view(ticket: TicketRow) -> dict[str, Any]:
    """A ticket's view without its standing (position, estimated wait)."""
    return {
        "id": ticket.id,
        "branch_id": ticket.branch_id,
        "ticket_no": ticket.ticket_no,
        "service": ticket.service,
        "status": ticket.status,
        "channel": ticket.channel,
        "category": ticket.category,
        "order_key": standings.order_key(item(ticket)),
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


def counter_view(
    counter: HallCounter, tickets: dict[int, TicketRow] | None = None
) -> dict[str, Any]:
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


def services_view(snap: Snapshot) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = {}
    for t in snap.tickets:
        counts[t.service, t.status] = counts.get((t.service, t.status), 0) + 1
    out = []
    for code, svc in sorted(snap.services.items()):
        if not svc.active:
            continue
        est = snap.estimate_new(code)
        out.append(
            {
                "service": code,
                "name": svc.name,
                "waiting": counts.get((code, "waiting"), 0),
                "booked": counts.get((code, "remote"), 0),
                "counters_open": est.servers,
                "mean_service_s": round(snap.means.get(code, 0.0)),
                "estimated_wait_s": est.estimated_wait_s,
            }
        )
    return out


def counters_view(snap: Snapshot) -> list[dict[str, Any]]:
    by_id = {t.id: t for t in snap.tickets}
    return [counter_view(c, by_id) for c in snap.counters]


def queue_picture(
    snap: Snapshot,
    branch_id: str,
    version: int,
    *,
    services: list[dict[str, Any]] | None = None,
    counters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The staff's picture of the queue: ``tickets`` waiting or booked in call order (ascending
    ``order_key``), ``serving`` the called ones by id, counters by counter id."""
    by_id = {t.id: t for t in snap.tickets}
    return {
        "branch_id": branch_id,
        "version": version,
        "at": isoformat(snap.now),
        "services": services if services is not None else services_view(snap),
        "counters": counters if counters is not None else counters_view(snap),
        "tickets": [ticket_view(by_id[i.id], snap) for i in snap.ranked],
        "serving": [ticket_view(t, snap) for t in snap.tickets if t.status == "called"],
    }


def queue_delta(
    snap: Snapshot,
    branch_id: str,
    version: int,
    *,
    services: list[dict[str, Any]],
    counters: list[dict[str, Any]],
    tickets: list[TicketRow],
    moved: list[tuple[int, rules.Estimate]],
    removed: list[int],
) -> dict[str, Any]:
    """The branch room's ``queue.update`` when the staff hold the picture of ``version - 1``:
    the services (all), the counters and tickets that changed (``tickets`` waiting or booked,
    ``serving`` called), the tickets that only moved (``standings``: position and estimated
    wait) and those that left the picture (``removed``). docs/branch.md says how to apply it."""
    views = [ticket_view(t, snap) for t in tickets]
    return {
        "branch_id": branch_id,
        "kind": "delta",
        "version": version,
        "base_version": version - 1,
        "at": isoformat(snap.now),
        "services": services,
        "counters": counters,
        "tickets": sorted(
            (v for v in views if v["status"] in rules.QUEUED_STATUSES),
            key=lambda v: v["order_key"],
        ),
        "serving": [v for v in views if v["status"] == "called"],
        "standings": [
            {"id": i, "position": e.position, "estimated_wait_s": e.estimated_wait_s}
            for i, e in moved
        ],
        "removed": removed,
    }


def board(
    snap: Snapshot, version: int, services: list[dict[str, Any]], counters: list[dict[str, Any]]
) -> dict[str, Any]:
    """The displays' board of ``snap``: ``display_board`` of the parts of the picture it reads
    (the first waiting tickets of each service in call order), without rendering the rest."""
    shown: list[dict[str, Any]] = []
    per_service: dict[str, int] = {}
    for t in snap.ranked:
        if t.status == "waiting" and per_service.get(t.service, 0) < BOARD_NEXT:
            per_service[t.service] = per_service.get(t.service, 0) + 1
            shown.append({"status": t.status, "service": t.service, "ticket_no": t.ticket_no})
    picture = {"version": version, "at": isoformat(snap.now), "services": services}
    return display_board({**picture, "counters": counters, "tickets": shown})


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
