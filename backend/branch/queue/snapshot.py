"""The branch's queue at one instant: its services and counters as configured, the open
tickets, and the live mean service times; positions and estimated waits are computed from it
(rules.py: priority with aging, the choice at a counter, the estimated wait).

A counter's effective skills are its own plus those lent to it while another counter's device
is offline (re-routing, service/rerouting.py). A service's live mean service time is the mean
of its last STATS_SAMPLES completed calls within STATS_WINDOW, pulled towards the service's
default while few exist (rules.blend_mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import rules
from backend.branch.models import HallCounter, HallService, ServiceLeg, Ticket
from backend.platform.clock import ensure_utc

STATS_WINDOW = timedelta(days=14)
STATS_SAMPLES = 50


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
