"""Pure queue rules of the hall.

The rules the branch edge runs too (services, categories and bonuses, priority with aging,
``MAX_LEAD_S``, ``QueueItem``, the choice at a counter, the estimated wait) live in
``edge/queue_rules.py``, which the edge may import (it may not import backend.branch), and are
re-exported here: one implementation, the same order offline and at the centre. What only the
centre needs stays here: channel prefixes of centrally issued tickets, the appointment window,
statuses, live service-time means and percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from edge.queue_rules import (
    CATEGORIES,
    CATEGORY_BONUS_S,
    MAX_LEAD_S,
    RETURN_BOOST_S,
    SERVICES,
    TRANSFER_BOOST_S,
    Estimate,
    QueueItem,
    bonus,
    choose_next,
    estimate,
    format_ticket_no,
    order,
    score,
    servers_for,
    service_letter,
)

__all__ = [
    "APPOINTMENT_EARLY",
    "APPOINTMENT_LATE",
    "CATEGORIES",
    "CATEGORY_BONUS_S",
    "CHANNELS",
    "CHANNEL_PREFIX",
    "MAX_LEAD_S",
    "MIN_SAMPLES",
    "OPEN_STATUSES",
    "QUEUED_STATUSES",
    "RETURN_BOOST_S",
    "SERVICES",
    "TRANSFER_BOOST_S",
    "Estimate",
    "QueueItem",
    "arrival_category",
    "blend_mean",
    "bonus",
    "choose_next",
    "estimate",
    "format_ticket_no",
    "order",
    "percentile",
    "score",
    "servers_for",
    "service_letter",
    "ticket_prefix",
]

CHANNELS = ("remote", "kiosk", "staff")
# Centrally issued tickets carry a channel letter, so they never collide with the numbers the
# branch edge gives kiosk tickets (A001, B002, ...) while the uplink is down.
CHANNEL_PREFIX = {"remote": "R", "staff": "S", "kiosk": ""}

# A booked appointment counts as one when the client checks in from 15 minutes early to 10 late.
APPOINTMENT_EARLY = timedelta(minutes=15)
APPOINTMENT_LATE = timedelta(minutes=10)

# Statuses: remote (booked, not yet in the hall) -> waiting -> called -> done; or no_show,
# cancelled, expired (a remote ticket never checked in).
OPEN_STATUSES = ("remote", "waiting", "called")
QUEUED_STATUSES = ("remote", "waiting")
MIN_SAMPLES = 5


def ticket_prefix(service: str, channel: str) -> str:
    return CHANNEL_PREFIX[channel] + service_letter(service)


def arrival_category(
    base: str, appointment_at: datetime | None, arrived_at: datetime | None
) -> str:
    """An appointment is honoured only for a client in the hall within its window; VIP and
    elderly (from the client profile) always win over it."""
    if base in ("vip", "elderly"):
        return base
    if (
        appointment_at is not None
        and arrived_at is not None
        and appointment_at - APPOINTMENT_EARLY <= arrived_at <= appointment_at + APPOINTMENT_LATE
    ):
        return "appointment"
    return "normal"


def blend_mean(samples: Sequence[float], default_s: float, min_samples: int = MIN_SAMPLES) -> float:
    """Mean service time from live samples, pulled towards the service's default while there
    are fewer than ``min_samples`` (a branch's first client of the day is no statistic)."""
    n = len(samples)
    if n >= min_samples:
        return sum(samples) / n
    return (sum(samples) + default_s * (min_samples - n)) / min_samples


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return float(ordered[lo])
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo))
