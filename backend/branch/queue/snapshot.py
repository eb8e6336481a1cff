"""The branch's queue at one instant: its services and counters as configured, the open
tickets (plain rows), and the live mean service times; the call order, positions and estimated
waits are computed from it, every ticket's at once (standings.py, by rules.py's priority with
aging and estimated wait).

A counter's effective skills are its own plus those lent to it while another counter's device
is offline (re-routing, service/rerouting.py). A service's live mean service time is the mean
of its last STATS_SAMPLES completed calls within STATS_WINDOW, pulled towards the service's
default while few exist (rules.blend_mean).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, reduce
from typing import Any

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.models import HallCounter, HallService, ServiceLeg, Ticket
from backend.branch.queue import standings
from backend.platform.clock import ensure_utc

STATS_WINDOW = timedelta(days=14)
STATS_SAMPLES = 50


def services_of(session: Session, branch_id: str) -> dict[str, HallService]:
    rows = session.scalars(select(HallService).where(HallService.branch_id == branch_id))
    return {s.code: s for s in rows}


def counters_of(session: Session, branch_id: str) -> list[HallCounter]:
    rows = session.scalars(select(HallCounter).where(HallCounter.branch_id == branch_id))
    return sorted(rows, key=lambda c: c.counter_id)  # the order clients sort pushed counters by


def effective_skills(counter: HallCounter) -> list[str]:
    """Own skills plus those borrowed from offline counters (re-routing)."""
    borrowed = [b["service"] for b in counter.borrowed_skills or [] if isinstance(b, dict)]
    return list(dict.fromkeys([*(counter.skills or []), *borrowed]))


# What a picture shows of a ticket and ranks it by: loaded as plain rows (no ORM objects:
# 800 of those cost more to build than everything else a write does). Views read them by name.
TICKET_COLUMNS = (
    Ticket.id,
    Ticket.branch_id,
    Ticket.ticket_no,
    Ticket.service,
    Ticket.status,
    Ticket.channel,
    Ticket.category,
    Ticket.boost_s,
    Ticket.queued_at,
    Ticket.counter_id,
    Ticket.return_service,
    Ticket.recalls,
    Ticket.transfers,
    Ticket.issued_at,
    Ticket.arrived_at,
    Ticket.appointment_at,
    Ticket.called_at,
    Ticket.finished_at,
    Ticket.client_user_id,
)
TicketRow = Any  # a row of TICKET_COLUMNS, or a Ticket: views read the same attributes


def _as_text(column: Any) -> Any:
    return func.coalesce(cast(column, String), "\x1e")  # NULL is not the empty string


# Everything a view shows of a ticket or ranks it by, as one text made by the database:
# delta.py tells a changed ticket by its digest, without building 800 rows of datetimes.
ROW_TEXT = reduce(
    lambda text, column: text.op("||")(literal("\x1f")).op("||")(_as_text(column)),
    TICKET_COLUMNS[1:],
    _as_text(TICKET_COLUMNS[0]),
).label("row_text")
# What ranking, standings, counts and counters need of every open ticket, and ROW_TEXT:
# a change loads the full rows of the few tickets it pushes (``tickets_by_id``).
LIGHT_COLUMNS = (
    Ticket.id,
    Ticket.ticket_no,
    Ticket.service,
    Ticket.status,
    Ticket.category,
    Ticket.boost_s,
    Ticket.queued_at,
    Ticket.client_user_id,
    ROW_TEXT,
)


@dataclass
class Snapshot:
    """The branch's open tickets (rows of TICKET_COLUMNS by id; of LIGHT_COLUMNS for a change's
    push) and counters at one instant, with the statistics the estimates need; views and pushes
    are computed from it. Every queued ticket's position and estimate is computed once, in one
    pass (standings.py)."""

    now: datetime
    tickets: list[TicketRow]
    counters: list[HallCounter]
    services: dict[str, HallService]
    means: dict[str, float]

    @cached_property
    def queued(self) -> list[rules.QueueItem]:
        """The queued tickets as the rules take them (a counter's choice)."""
        return [item(t) for t in self.tickets if t.status in rules.QUEUED_STATUSES]

    @cached_property
    def _order(self) -> list[tuple[tuple[int, int, int], TicketRow]]:
        queued = (t for t in self.tickets if t.status in rules.QUEUED_STATUSES)
        return sorted(((standings.order_tuple(t), t) for t in queued), key=lambda p: p[0])

    @cached_property
    def ranked(self) -> list[TicketRow]:
        """The queued tickets in call order (standings.ranked)."""
        return [t for _key, t in self._order]

    @cached_property
    def ranked_keys(self) -> list[tuple[int, int, int]]:
        return [key for key, _i in self._order]

    @cached_property
    def counter_pairs(self) -> list[tuple[str, list[str]]]:
        return [(c.status, effective_skills(c)) for c in self.counters]

    @cached_property
    def busy_by_service(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.counters:
            if c.status == "open" and c.current_ticket_id:
                for service in effective_skills(c):
                    out[service] = out.get(service, 0) + 1
        return out

    @cached_property
    def _walk(self) -> tuple[dict[int, rules.Estimate], dict[str, rules.Estimate]]:
        probe = standings.order_tuple(self._probe(next(iter(rules.SERVICES))))
        return standings.standings(
            self.ranked,
            self.counter_pairs,
            self.means,
            self.busy_by_service,
            new_at=bisect.bisect_left(self.ranked_keys, probe),
            new_services=sorted(self.services),
        )

    @property
    def estimates(self) -> dict[int, rules.Estimate]:
        """Each queued ticket's position and estimated wait, by id."""
        return self._walk[0]

    def busy(self, service: str) -> int:
        return self.busy_by_service.get(service, 0)

    def _probe(self, service: str) -> rules.QueueItem:
        return rules.QueueItem(0, service, "normal", 0, self.now, "waiting")

    def estimate(self, ticket: TicketRow) -> rules.Estimate | None:
        if ticket.status not in rules.QUEUED_STATUSES:
            return None
        known = self.estimates.get(ticket.id)
        return known if known is not None else self._estimate_at(item(ticket))

    def estimate_new(self, service: str) -> rules.Estimate:
        """What a ticket of ``service`` taken now could expect."""
        known = self._walk[1].get(service)
        return known if known is not None else self._estimate_at(self._probe(service))

    def _estimate_at(self, probe: rules.QueueItem) -> rules.Estimate:
        """Where a ticket this snapshot does not hold would stand."""
        return rules.estimate(
            probe,
            standings.insert(self.ranked, self.ranked_keys, probe),
            self.counter_pairs,
            self.means,
            self.now,
            busy=self.busy(probe.service),
            ranked=True,
        )


def item(ticket: TicketRow) -> rules.QueueItem:
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


def open_tickets(session: Session, branch_id: str, *, light: bool = False) -> list[TicketRow]:
    return list(
        session.execute(
            select(*(LIGHT_COLUMNS if light else TICKET_COLUMNS))
            .where(Ticket.branch_id == branch_id, Ticket.status.in_(rules.OPEN_STATUSES))
            .order_by(Ticket.id)
        )
    )


def tickets_by_id(session: Session, ids: Iterable[int]) -> list[TicketRow]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(
        session.execute(select(*TICKET_COLUMNS).where(Ticket.id.in_(wanted)).order_by(Ticket.id))
    )


def snapshot(session: Session, branch_id: str, now: datetime, *, light: bool = False) -> Snapshot:
    """The queue now; ``light``: its tickets as LIGHT_COLUMNS rows (a change's push)."""
    services = services_of(session, branch_id)
    return Snapshot(
        now=now,
        tickets=open_tickets(session, branch_id, light=light),
        counters=counters_of(session, branch_id),
        services=services,
        means=mean_service_times(session, branch_id, services, now),
    )
