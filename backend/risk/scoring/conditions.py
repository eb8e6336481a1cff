"""Rule conditions and what they are tested against.

A ``RuleContext`` is one enterprise at one moment (its history up to ``as_of``, its features
and tags); a ``Condition`` either does not hold (``None``) or yields a ``Match``: the evidence
keys (event ids, feature values, tags) that drive de-duplication and escalation of signals,
the matching events, and the values that fill a rule's reason template.

- ``EventCond``: events of a kind (or kinds, or a category), optionally from one source,
  within a window, at least ``min_count`` of them, filtered by ``where`` on data fields, with
  a ``total`` over a field, and cleared by a later ``unless_followed_by`` event;
- ``FeatureCond``: ``feature <op> number``; ``TagCond``: the enterprise carries a tag;
- ``AllOf``, ``AnyOf``, ``Not`` combine them.

Rule files name these in YAML (``rulefile.py`` parses them)."""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.risk import catalog
from backend.risk.scoring.history import EnterpriseHistory, EventView

OPS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
WHERE_OPS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
    "in": lambda a, b: a in b,
}

# --- evaluation context and results -----------------------------------------------------------


@dataclass
class RuleContext:
    history: EnterpriseHistory
    as_of: datetime
    features: dict[str, float]
    tags: set[str] = field(default_factory=set)
    _events: list[EventView] | None = None
    _by_kind: dict[str, list[EventView]] | None = None

    @property
    def events(self) -> list[EventView]:
        if self._events is None:
            self._events = self.history.events_until(self.as_of)
        return self._events

    def of_kind(self, kind: str) -> list[EventView]:
        if self._by_kind is None:
            self._by_kind = defaultdict(list)
            for event in self.events:
                self._by_kind[event.kind].append(event)
        return self._by_kind.get(kind, [])


@dataclass
class Match:
    keys: set[str] = field(default_factory=set)
    events: list[EventView] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: Match) -> Match:
        self.keys |= other.keys
        self.events.extend(e for e in other.events if e not in self.events)
        for k, v in other.values.items():
            self.values.setdefault(k, v)
        return self


# --- conditions ------------------------------------------------------------------------------


class Condition:
    def match(self, ctx: RuleContext) -> Match | None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class AllOf(Condition):
    parts: list[Condition]

    def match(self, ctx):
        result = Match()
        for part in self.parts:
            found = part.match(ctx)
            if found is None:
                return None
            result.merge(found)
        return result


@dataclass
class AnyOf(Condition):
    parts: list[Condition]

    def match(self, ctx):
        result = None
        for part in self.parts:
            found = part.match(ctx)
            if found is not None:
                result = found if result is None else result.merge(found)
        return result


@dataclass
class Not(Condition):
    part: Condition

    def match(self, ctx):
        return Match() if self.part.match(ctx) is None else None


@dataclass
class FeatureCond(Condition):
    name: str
    op: str
    value: float

    def match(self, ctx):
        actual = ctx.features.get(self.name)
        if actual is None or not OPS[self.op](actual, self.value):
            return None
        return Match(keys={f"feature:{self.name}={actual:.2f}"}, values={"value": actual})


@dataclass
class TagCond(Condition):
    code: str

    def match(self, ctx):
        return Match(keys={f"tag:{self.code}"}) if self.code in ctx.tags else None


def _field_value(event: EventView, name: str) -> Any:
    if name == "severity":
        return event.severity
    value = event.data.get(name)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


@dataclass
class EventCond(Condition):
    kinds: tuple[str, ...]
    category: str | None = None
    source: str | None = None
    within_days: int | None = None
    min_count: int = 1
    where: dict[str, dict[str, Any]] = field(default_factory=dict)
    total: tuple[str, str, float] | None = None  # (field, op, value)
    unless_followed_by: str | None = None

    def _candidates(self, ctx: RuleContext) -> list[EventView]:
        if self.kinds:
            events = [e for kind in self.kinds for e in ctx.of_kind(kind)]
        else:
            events = [e for e in ctx.events if e.category == self.category]
        return events

    def match(self, ctx):
        events = self._candidates(ctx)
        if self.category:
            events = [e for e in events if e.category == self.category]
        if self.source:
            events = [e for e in events if e.source == self.source]
        if self.within_days is not None:
            start = ctx.as_of - timedelta(days=self.within_days)
            events = [e for e in events if e.time >= start]
        for name, tests in self.where.items():
            events = [
                e
                for e in events
                if (value := _field_value(e, name)) is not None
                and all(_safe(WHERE_OPS[op], value, arg) for op, arg in tests.items())
            ]
        if self.unless_followed_by:
            cleared = [e.time for e in ctx.of_kind(self.unless_followed_by)]
            if cleared:
                last_clear = max(cleared)
                events = [e for e in events if e.time > last_clear]
        if len(events) < self.min_count:
            return None
        events.sort(key=lambda e: (e.time, e.id))
        values: dict[str, Any] = {
            "count": len(events),
            "latest_date": events[-1].time.date().isoformat(),
            "latest_title": events[-1].title or catalog.KINDS[events[-1].kind].label,
            "latest_source": events[-1].source,
        }
        amount = _field_value(events[-1], "amount")
        if isinstance(amount, float):
            values["latest_amount"] = amount
        if self.total:
            name, op, limit = self.total
            total = sum(float(_field_value(e, name) or 0) for e in events)
            if not OPS[op](total, limit):
                return None
            values["total"] = total
        return Match(keys={f"event:{e.id}" for e in events}, events=events, values=values)


def _safe(test, value, arg) -> bool:
    try:
        return bool(test(value, arg))
    except TypeError:
        return False
