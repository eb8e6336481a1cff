"""What rules, features and the model see of one enterprise: its profile and its events,
time-ordered, as plain values.  Built from the database (``load_histories``) or directly by the
synthetic generator, so that the same pure code scores a live enterprise, a backtest snapshot
and a benchmark."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.risk.models import Enterprise, RiskEvent


@dataclass(slots=True)
class EventView:
    id: int
    kind: str
    category: str
    source: str
    severity: int
    time: datetime
    data: dict[str, Any]
    title: str | None = None
    known_at: datetime | None = None  # when the bank learned of it; None: at ``time``


@dataclass
class EnterpriseHistory:
    key: int
    name: str
    credit_code: str | None
    status: str = "in_business"
    registered_capital: float | None = None
    established_on: date | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[EventView] = field(default_factory=list)
    default_date: datetime | None = None  # first loan default (ground truth in synthetic data)

    def __post_init__(self):
        self.events.sort(key=lambda e: (e.time, e.id))
        self._times = [e.time for e in self.events]
        if self.default_date is None:
            self.default_date = next(
                (e.time for e in self.events if e.kind == "loan_default"), None
            )

    def add_event(self, event: EventView) -> None:
        index = bisect_right(self._times, event.time)
        self.events.insert(index, event)
        self._times.insert(index, event.time)
        if event.kind == "loan_default" and (
            self.default_date is None or event.time < self.default_date
        ):
            self.default_date = event.time

    def events_until(self, as_of: datetime) -> list[EventView]:
        """The events as the bank saw them at ``as_of`` (point in time): happened at or before
        ``as_of`` and known by then. Training rows, backtests and live scoring all use this one
        view, so a lawsuit filed before a snapshot but published after it is invisible there."""
        happened = self.events[: bisect_right(self._times, as_of)]
        return [e for e in happened if e.known_at is None or e.known_at <= as_of]


def load_histories(session: Session, enterprise_ids: Sequence[int]) -> dict[int, EnterpriseHistory]:
    """Profiles and events of the given enterprises in two queries (plain rows, no ORM
    identity map: a full scan reads every event once)."""
    ids = list(enterprise_ids)
    if not ids:
        return {}
    histories: dict[int, EnterpriseHistory] = {}
    events: dict[int, list[EventView]] = {i: [] for i in ids}
    for row in session.execute(
        select(
            RiskEvent.id,
            RiskEvent.enterprise_id,
            RiskEvent.kind,
            RiskEvent.category,
            RiskEvent.source,
            RiskEvent.severity,
            RiskEvent.source_time,
            RiskEvent.data,
            RiskEvent.title,
            RiskEvent.known_at,
        ).where(RiskEvent.enterprise_id.in_(ids))
    ):
        events[row.enterprise_id].append(
            EventView(
                row.id,
                row.kind,
                row.category,
                row.source,
                row.severity,
                row.source_time,
                row.data or {},
                row.title,
                row.known_at,
            )
        )
    for row in session.execute(
        select(
            Enterprise.id,
            Enterprise.name,
            Enterprise.credit_code,
            Enterprise.status,
            Enterprise.registered_capital,
            Enterprise.established_on,
            Enterprise.attributes,
        ).where(Enterprise.id.in_(ids))
    ):
        histories[row.id] = EnterpriseHistory(
            key=row.id,
            name=row.name,
            credit_code=row.credit_code,
            status=row.status,
            registered_capital=float(row.registered_capital)
            if row.registered_capital is not None
            else None,
            established_on=row.established_on,
            attributes=row.attributes or {},
            events=events[row.id],
        )
    return histories
