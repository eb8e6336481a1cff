"""Call order, positions and estimated waits of every queued ticket at once.

``rules.estimate`` answers for one ticket by walking the tickets ahead of it, so a picture of
N tickets cost N² steps (0.6 s a write at 800 waiting). Here one walk down the call order
gives every ticket its standing: per service a running count (the position) and a running
sum of the work ahead that competes for its counters. The sums are made of the same terms
added in the same order as ``rules.estimate`` adds them, so the floats, and the rounded
waits, are identical (tests/unit/test_branch_standings.py checks it against rules.estimate).

The call order is rules.order's (highest score first, then queue time, then id), computed
exactly: every score grows at the same rate, so a ticket's place is fixed by the instant its
score counts from, ``queued_at - bonus - boost``, in whole microseconds (``order_tuple``).
``order_key`` writes that tuple as a string whose ascending order is the call order: clients
sort the tickets of a pushed delta by it (docs/branch.md, *Pushes*).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from backend.branch import rules
from backend.platform.clock import ensure_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_OFFSET = 1 << 62  # keeps both instants positive, so fixed-width hex sorts as the numbers do

Counters = Sequence[tuple[str, Sequence[str]]]  # (status, effective skills) per counter


class Queued(Protocol):
    """What ranking and standings read of a ticket: a rules.QueueItem, a Ticket or a row."""

    id: int
    service: str
    category: str
    boost_s: int
    queued_at: datetime


def micros(when: datetime) -> int:
    return (ensure_utc(when) - _EPOCH) // _MICRO


def order_tuple(item: Queued) -> tuple[int, int, int]:
    """(instant the score counts from, queue instant, id): ascending is the call order."""
    queued = micros(item.queued_at)
    lead = (rules.bonus(item.category) + item.boost_s) * 1_000_000
    return queued - lead, queued, item.id


def order_key(item: Queued) -> str:
    start, queued, ticket_id = order_tuple(item)
    return f"{start + _OFFSET:016x}{queued + _OFFSET:016x}{ticket_id:012x}"


Q = TypeVar("Q", bound=Queued)


def ranked(items: Iterable[Q]) -> list[Q]:
    """The call order of ``items`` (rules.order's, without floating point)."""
    return sorted(items, key=order_tuple)


def competing(service: str, counters: Counters) -> set[str]:
    """The services whose waiting clients compete with ``service``'s for its open counters."""
    out = {
        s for status, skills in counters if status == "open" and service in skills for s in skills
    }
    out.add(service)
    return out


def standings(
    in_order: Sequence[Queued],
    counters: Counters,
    means: dict[str, float],
    busy: dict[str, int],
    *,
    new_at: int | None = None,
    new_services: Iterable[str] = (),
) -> tuple[dict[int, rules.Estimate], dict[str, rules.Estimate]]:
    """Each ticket's ``rules.estimate`` (``in_order`` is the call order), in one pass; and
    for each of ``new_services``, the estimate of a new ticket of that service standing at
    index ``new_at`` of the order (``rules.estimate`` of a probe inserted there)."""
    new_services = list(new_services)
    codes = sorted({i.service for i in in_order} | set(new_services))
    feeds = {s: [t for t in codes if s in competing(t, counters)] for s in codes}
    servers = {s: rules.servers_for(s, counters) for s in codes}
    mean = {s: means.get(s, rules.SERVICES[s][2]) for s in codes}
    ahead = dict.fromkeys(codes, 0)
    work = dict.fromkeys(codes, 0.0)

    def standing(s: str) -> rules.Estimate:
        total = work[s] + busy.get(s, 0) * mean[s] / 2
        return rules.Estimate(ahead[s] + 1, math.ceil(total / max(servers[s], 1)), servers[s])

    out: dict[int, rules.Estimate] = {}
    new: dict[str, rules.Estimate] = {}
    for index, item in enumerate(in_order):
        if index == new_at:
            new = {s: standing(s) for s in new_services}
        s = item.service
        out[item.id] = standing(s)
        ahead[s] += 1
        for t in feeds[s]:
            work[t] += mean[s]
    if new_at is not None and new_at >= len(in_order):
        new = {s: standing(s) for s in new_services}
    return out, new


def insert(
    in_order: Sequence[Queued], keys: Sequence[tuple[int, int, int]], probe: Queued
) -> list[Queued]:
    """``in_order`` with ``probe`` at its place (``keys``: their order tuples)."""
    at = bisect.bisect_left(keys, order_tuple(probe))
    return [*in_order[:at], probe, *in_order[at:]]
