"""The hall's queue rules, shared by the centre (backend/branch) and the branch edge's offline
queue (edge/localqueue/): services, categories, priority with aging, the choice at a counter
and the estimated wait. Standard library only and no I/O, so the edge runs exactly the rules
the centre runs; ``backend.branch.rules`` re-exports everything here (one implementation).

Priority with aging. A waiting ticket's score is the seconds it has waited plus a bounded bonus:

    score = (now - queued_at) + CATEGORY_BONUS_S[category] + boost_s

Every score grows at the same rate, so the order between two tickets never changes while both
wait, and a ticket can only be overtaken by tickets queued less than ``MAX_LEAD_S`` (the largest
bonus plus the largest boost) after it. Nobody starves: a normal client is called before
anybody, VIP or not, who arrives more than MAX_LEAD_S after them. ``queued_at`` survives a
transfer, so a transferred client keeps the time already waited, and ``boost_s`` raises them
further (TRANSFER_BOOST_S into the new service, RETURN_BOOST_S back into the first one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# code -> (name, ticket letter, default service time in seconds)
SERVICES: dict[str, tuple[str, str, int]] = {
    "cash": ("Cash", "A", 180),
    "account": ("Accounts and cards", "B", 420),
    "loan": ("Loans", "C", 900),
    "wealth": ("Wealth management", "D", 900),
    "corporate": ("Corporate banking", "E", 600),
}
CATEGORIES = ("normal", "appointment", "elderly", "vip")
CATEGORY_BONUS_S = {"normal": 0, "appointment": 600, "elderly": 600, "vip": 900}
TRANSFER_BOOST_S = 600
RETURN_BOOST_S = 1200
MAX_LEAD_S = max(CATEGORY_BONUS_S.values()) + max(TRANSFER_BOOST_S, RETURN_BOOST_S)


@dataclass(frozen=True)
class QueueItem:
    id: int
    service: str
    category: str
    boost_s: int
    queued_at: datetime
    status: str  # remote | waiting


def service_letter(service: str) -> str:
    """The ticket letter of a service (A cash, B account, ...)."""
    return SERVICES[service][1]


def format_ticket_no(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


def bonus(category: str) -> int:
    return CATEGORY_BONUS_S.get(category, 0)


def score(item: QueueItem, now: datetime) -> float:
    return (now - item.queued_at).total_seconds() + bonus(item.category) + item.boost_s


def order(items: Iterable[QueueItem], now: datetime) -> list[QueueItem]:
    """Call order: highest score first; ties by queue time, then by id (stable)."""
    return sorted(items, key=lambda i: (-score(i, now), i.queued_at, i.id))


def choose_next(
    items: Iterable[QueueItem], skills: Sequence[str], now: datetime
) -> QueueItem | None:
    """The ticket a counter with ``skills`` calls next: among tickets in the hall (remote ones
    are held until they check in) of a service it serves, the highest score."""
    eligible = [i for i in items if i.status == "waiting" and i.service in skills]
    ranked = order(eligible, now)
    return ranked[0] if ranked else None


def servers_for(service: str, counters: Iterable[tuple[str, Sequence[str]]]) -> int:
    """Open counters that serve ``service``: (status, skills) pairs."""
    return sum(1 for status, skills in counters if status == "open" and service in skills)


@dataclass(frozen=True)
class Estimate:
    position: int
    estimated_wait_s: int
    servers: int


def estimate(
    item: QueueItem,
    queued: Sequence[QueueItem],
    counters: Sequence[tuple[str, Sequence[str]]],
    mean_service_s: dict[str, float],
    now: datetime,
    busy: int = 0,
    *,
    ranked: bool = False,
) -> Estimate:
    """Position among the tickets of the same service, and the wait: the work of every ticket
    ahead that competes for the same counters, shared by the open counters of this service
    (half a service for each client being served at those counters). ``ranked``: ``queued``
    is already in call order."""
    in_order = queued if ranked else order(queued, now)
    serving = {
        s
        for status, skills in counters
        if status == "open" and item.service in skills
        for s in skills
    }
    serving.add(item.service)
    position = 1
    work = 0.0
    for other in in_order:
        if other.id == item.id:
            break
        if other.service == item.service:
            position += 1
        if other.service in serving:
            work += mean_service_s.get(other.service, SERVICES[other.service][2])
    servers = servers_for(item.service, counters)
    work += busy * mean_service_s.get(item.service, SERVICES[item.service][2]) / 2
    wait = work / max(servers, 1)
    return Estimate(position, math.ceil(wait), servers)
