"""The rules engine: versioned YAML rule files (backend/risk/rules/*.yaml) loaded, validated
and evaluated over an enterprise's events, features and tags.

A rule file names its ``version``; ``load_ruleset()`` takes the highest version in the folder
(or the one asked for, e.g. to explain an old signal), validates every rule against the
catalog (event kinds, feature names, tags, levels) and refuses the whole file with the rule id
and the reason when anything is wrong.  A rule::

    - id: JUD-LAWSUITS
      title: Repeated lawsuits as defendant
      level: medium
      when:
        event: {kind: lawsuit_defendant, within_days: 180, min_count: 3}
      reason: "{count} lawsuits as defendant in 180 days, latest {latest_date}"
      escalate: {after: 2, to: strong}

Conditions: ``event`` (kind or kinds, category, source, within_days, min_count, where,
total, unless_followed_by), ``feature`` ("debt_ratio >= 0.85"), ``tag`` (code), and ``all``,
``any``, ``not`` to combine them.  A match yields a ``Finding`` whose evidence keys (event
ids, feature values, tags) drive de-duplication and escalation in backend/risk/signals.py.
"""

from __future__ import annotations

import operator
import re
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from backend.risk import catalog
from backend.risk.features import FEATURE_NAMES
from backend.risk.history import EnterpriseHistory, EventView
from backend.risk.rules import RULES_DIR
from backend.risk.tags import TAG_CODES


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names the file and the rule."""


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
_FEATURE_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+)\s*$")


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


@dataclass(frozen=True)
class Escalation:
    after: int
    to: str | None  # None: one level up
    cap: str

    def level_for(self, base: str, occurrences: int) -> str:
        if occurrences < self.after:
            return base
        if self.to:
            return self.to if catalog.level_rank(self.to) > catalog.level_rank(base) else base
        return catalog.raise_level(base, 1, cap=self.cap)


@dataclass
class Finding:
    rule_id: str
    origin: str
    level: str
    title: str
    reason: str
    evidence: dict[str, Any]
    keys: frozenset[str]
    rule_version: str
    escalation: Escalation | None = None
    score: float | None = None


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


# --- rules and rulesets -----------------------------------------------------------------------


def _feature_names(keys) -> list[str]:
    return sorted(
        k.removeprefix("feature:").split("=")[0] for k in keys if k.startswith("feature:")
    )


class _Placeholders(dict):
    def __missing__(self, key):
        return "{" + key + "}"


@dataclass
class Rule:
    id: str
    title: str
    level: str
    when: Condition
    reason: str
    escalation: Escalation | None

    def evaluate(self, ctx: RuleContext, version: str) -> Finding | None:
        found = self.when.match(ctx)
        if found is None:
            return None
        values = _Placeholders(ctx.features)
        values.update(found.values)
        try:
            reason = string.Formatter().vformat(self.reason, (), values)
        except (ValueError, TypeError, IndexError, AttributeError):
            reason = self.title
        evidence = {
            "events": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "source": e.source,
                    "time": e.time.isoformat(),
                    "title": e.title,
                }
                for e in found.events[-10:]
            ],
            "event_count": len(found.events),
            "features": {name: round(ctx.features[name], 4) for name in _feature_names(found.keys)},
            "tags": sorted(k.split(":", 1)[1] for k in found.keys if k.startswith("tag:")),
        }
        return Finding(
            rule_id=self.id,
            origin="rule",
            level=self.level,
            title=self.title,
            reason=reason[:500],
            evidence=evidence,
            keys=frozenset(found.keys) or frozenset({f"rule:{self.id}"}),
            rule_version=version,
            escalation=self.escalation,
        )


@dataclass
class ContagionSpec:
    decay: float
    max_hops: int
    seed_weights: dict[str, float]
    flows: dict[str, dict[str, Any]]
    levels: dict[str, float]
    max_level: str = "strong"

    def level_for(self, score: float) -> str | None:
        best = None
        for level, threshold in self.levels.items():
            if score >= threshold and catalog.level_rank(level) > catalog.level_rank(best):
                best = level
        return best


@dataclass
class Ruleset:
    name: str
    version: str
    rules: list[Rule]
    contagion: ContagionSpec
    path: str = ""

    def evaluate(self, ctx: RuleContext) -> list[Finding]:
        return [f for rule in self.rules if (f := rule.evaluate(ctx, self.version)) is not None]


# --- loading and validation ---------------------------------------------------------------------


def _fail(where: str, message: str):
    raise RuleFileError(f"{where}: {message}")


def _keys(obj: Any, allowed: set[str], where: str, required: set[str] = frozenset()) -> dict:
    if not isinstance(obj, dict):
        _fail(where, "must be a mapping")
    unknown = set(obj) - allowed
    if unknown:
        _fail(where, f"unknown key(s) {sorted(unknown)}")
    missing = set(required) - set(obj)
    if missing:
        _fail(where, f"missing key(s) {sorted(missing)}")
    return obj


def _level(value: Any, where: str) -> str:
    if value not in catalog.LEVELS:
        _fail(where, f"level {value!r} is not one of {catalog.LEVELS}")
    return value


def _condition(spec: Any, where: str) -> Condition:
    if not isinstance(spec, dict) or len(spec) != 1:
        _fail(
            where, "a condition is a mapping with exactly one of event, feature, tag, all, any, not"
        )
    ((key, value),) = spec.items()
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            _fail(where, f"{key} needs a non-empty list")
        parts = [_condition(v, f"{where}.{key}[{i}]") for i, v in enumerate(value)]
        return AllOf(parts) if key == "all" else AnyOf(parts)
    if key == "not":
        return Not(_condition(value, f"{where}.not"))
    if key == "feature":
        match = _FEATURE_RE.match(value) if isinstance(value, str) else None
        if not match:
            _fail(where, f"feature condition {value!r} must read 'name <op> number'")
        name, op, number = match.groups()
        if name not in FEATURE_NAMES:
            _fail(where, f"unknown feature {name!r}")
        return FeatureCond(name, op, float(number))
    if key == "tag":
        if value not in TAG_CODES:
            _fail(where, f"unknown tag {value!r}")
        return TagCond(value)
    if key == "event":
        return _event_condition(value, f"{where}.event")
    _fail(where, f"unknown condition {key!r}")
    raise AssertionError


def _event_condition(spec: Any, where: str) -> EventCond:
    allowed = {
        "kind",
        "kinds",
        "category",
        "source",
        "within_days",
        "min_count",
        "where",
        "total",
        "unless_followed_by",
    }
    spec = _keys(spec, allowed, where)
    kinds = spec.get("kinds") or ([spec["kind"]] if "kind" in spec else [])
    for kind in [*kinds, *([spec["unless_followed_by"]] if "unless_followed_by" in spec else [])]:
        if kind not in catalog.KINDS:
            _fail(where, f"unknown event kind {kind!r}")
    category = spec.get("category")
    if category is not None and category not in catalog.CATEGORIES:
        _fail(where, f"unknown category {category!r}")
    if not kinds and not category:
        _fail(where, "needs kind, kinds or category")
    for name in ("within_days", "min_count"):
        if name in spec and (not isinstance(spec[name], int) or spec[name] < 1):
            _fail(where, f"{name} must be a positive integer")
    where_spec = spec.get("where", {})
    if not isinstance(where_spec, dict):
        _fail(where, "where must be a mapping of field -> {op: value}")
    for name, tests in where_spec.items():
        if not isinstance(tests, dict) or not tests or set(tests) - set(WHERE_OPS):
            _fail(where, f"where.{name} needs operators from {sorted(WHERE_OPS)}")
    total = None
    if "total" in spec:
        t = _keys(
            spec["total"], {"field", "op", "value"}, f"{where}.total", {"field", "op", "value"}
        )
        if t["op"] not in OPS or not isinstance(t["value"], int | float):
            _fail(where, "total needs field, op (>, >=, ...) and a numeric value")
        total = (t["field"], t["op"], float(t["value"]))
    return EventCond(
        kinds=tuple(kinds),
        category=category,
        source=spec.get("source"),
        within_days=spec.get("within_days"),
        min_count=spec.get("min_count", 1),
        where=where_spec,
        total=total,
        unless_followed_by=spec.get("unless_followed_by"),
    )


def _escalation(spec: Any, default: Escalation | None, where: str) -> Escalation | None:
    if spec is None:
        return default
    if spec is False:
        return None
    spec = _keys(spec, {"after", "to", "max"}, where, {"after"})
    if not isinstance(spec["after"], int) or spec["after"] < 2:
        _fail(where, "after must be an integer >= 2")
    to = _level(spec["to"], where) if "to" in spec else None
    cap = _level(spec.get("max", default.cap if default else "strong"), where)
    return Escalation(spec["after"], to, cap)


def _contagion(spec: Any, where: str) -> ContagionSpec:
    spec = _keys(
        spec,
        {"decay", "max_hops", "seed_weights", "flows", "levels", "max_level"},
        where,
        {"decay", "max_hops", "seed_weights", "flows", "levels"},
    )
    if not 0 < float(spec["decay"]) <= 1:
        _fail(where, "decay must be in (0, 1]")
    for level in [*spec["seed_weights"], *spec["levels"]]:
        _level(level, f"{where}.levels")
    for kind, flow in spec["flows"].items():
        if kind not in catalog.EDGE_KINDS:
            _fail(where, f"unknown edge kind {kind!r} in flows")
        flow = _keys(flow, {"forward", "backward", "by_share"}, f"{where}.flows.{kind}")
        for direction in ("forward", "backward"):
            if not 0 <= float(flow.get(direction, 0)) < 1:
                _fail(where, f"flows.{kind}.{direction} must be in [0, 1)")
    return ContagionSpec(
        decay=float(spec["decay"]),
        max_hops=int(spec["max_hops"]),
        seed_weights={k: float(v) for k, v in spec["seed_weights"].items()},
        flows=spec["flows"],
        levels={k: float(v) for k, v in spec["levels"].items()},
        max_level=_level(spec.get("max_level", "strong"), where),
    )


_SAMPLE = {
    **dict.fromkeys(FEATURE_NAMES, 0.5),
    "count": 1,
    "latest_date": "2025-01-01",
    "latest_title": "title",
    "latest_source": "source",
    "latest_amount": 1.0,
    "total": 1.0,
    "value": 1.0,
}


def _check_reason(template: str, where: str) -> None:
    try:
        string.Formatter().vformat(template, (), _SAMPLE)
    except KeyError as exc:
        _fail(where, f"reason names an unknown placeholder {exc}")
    except (ValueError, IndexError) as exc:
        _fail(where, f"reason is not a valid template: {exc}")


def parse_ruleset(document: Any, where: str = "<rules>") -> Ruleset:
    doc = _keys(
        document,
        {"ruleset", "version", "released", "changelog", "defaults", "contagion", "rules"},
        where,
        {"ruleset", "version", "contagion", "rules"},
    )
    defaults = _keys(doc.get("defaults") or {}, {"escalate"}, f"{where}.defaults")
    default_escalation = _escalation(defaults.get("escalate"), None, f"{where}.defaults.escalate")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, spec in enumerate(doc["rules"] or []):
        rule_where = f"{where} rule #{i + 1}"
        spec = _keys(
            spec,
            {"id", "title", "level", "when", "reason", "escalate"},
            rule_where,
            {"id", "title", "level", "when", "reason"},
        )
        rule_id = spec["id"]
        rule_where = f"{where} rule {rule_id}"
        if not isinstance(rule_id, str) or not re.fullmatch(r"[A-Z][A-Z0-9-]{1,38}", rule_id):
            _fail(rule_where, "id must be upper-case letters, digits and dashes")
        if rule_id in seen:
            _fail(rule_where, "duplicate rule id")
        seen.add(rule_id)
        level = _level(spec["level"], rule_where)
        _check_reason(str(spec["reason"]), rule_where)
        rule = Rule(
            id=rule_id,
            title=str(spec["title"]),
            level=level,
            when=_condition(spec["when"], f"{rule_where}.when"),
            reason=str(spec["reason"]),
            escalation=None
            if level == "hard"
            else _escalation(spec.get("escalate"), default_escalation, f"{rule_where}.escalate"),
        )
        rules.append(rule)
    return Ruleset(
        name=str(doc["ruleset"]),
        version=str(doc["version"]),
        rules=rules,
        contagion=_contagion(doc["contagion"], f"{where}.contagion"),
        path=where,
    )


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-]", version))


def rule_files(directory: Path = RULES_DIR) -> dict[str, Path]:
    """version -> file, for every rule file in the folder."""
    files = {}
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        version = str(doc.get("version")) if isinstance(doc, dict) else None
        if not version:
            raise RuleFileError(f"{path.name}: no version")
        if version in files:
            raise RuleFileError(f"{path.name}: version {version} also in {files[version].name}")
        files[version] = path
    return files


@cache
def load_ruleset(version: str | None = None, directory: Path = RULES_DIR) -> Ruleset:
    """The ruleset of ``version`` (default: the highest version in the folder)."""
    files = rule_files(directory)
    if not files:
        raise RuleFileError(f"no rule files in {directory}")
    if version is None:
        version = max(files, key=_version_key)
    if version not in files:
        raise RuleFileError(f"no rule file with version {version!r}")
    path = files[version]
    with path.open(encoding="utf-8") as fh:
        return parse_ruleset(yaml.safe_load(fh), path.name)
