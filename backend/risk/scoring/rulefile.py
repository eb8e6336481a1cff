"""Rule files: versioned YAML (backend/risk/scoring/rules/*.yaml) loaded and validated into a
``Ruleset``.

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

A file may state what each level promises (``targets``; version 3 does, for every level)::

    targets:
      hard: {precision_12m: 0.60, max_alerts_per_week_per_1000: 1.0}
      strong: {precision_12m: 0.30, max_alerts_per_week_per_1000: 3.0}
      ...

``precision_12m`` (in (0, 1]): the share of flagged enterprises that default within 12 months;
``max_alerts_per_week_per_1000`` (> 0): the alert budget.  When present, every level has both,
and a higher level never promises less precision or allows more alerts than a lower one.

Conditions: ``event`` (kind or kinds, category, source, within_days, min_count, where,
total, unless_followed_by), ``feature`` ("debt_ratio >= 0.85"), ``tag`` (code), and ``all``,
``any``, ``not`` to combine them (``conditions.py``); reasons are templates checked against
the placeholders a match provides.
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from backend.risk import catalog
from backend.risk.models import RulesetState
from backend.risk.scoring.conditions import (
    OPS,
    WHERE_OPS,
    AllOf,
    AnyOf,
    Condition,
    EventCond,
    FeatureCond,
    Not,
    TagCond,
)
from backend.risk.scoring.features import FEATURE_NAMES
from backend.risk.scoring.rules import RULES_DIR
from backend.risk.scoring.ruleset import ContagionSpec, Escalation, Rule, Ruleset
from backend.risk.scoring.tags import TAG_CODES


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names the file and the rule."""


_FEATURE_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+)\s*$")


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


TARGET_KEYS = ("precision_12m", "max_alerts_per_week_per_1000")
# optional: the share of firms that never default which this level (or a higher one) may flag
OPTIONAL_TARGET_KEYS = ("max_false_alarm_rate",)


def _targets(spec: Any, where: str) -> dict[str, dict[str, float]]:
    spec = _keys(spec, set(catalog.LEVELS), where, set(catalog.LEVELS))
    out: dict[str, dict[str, float]] = {}
    for level in catalog.LEVELS:
        target = _keys(
            spec[level],
            set(TARGET_KEYS) | set(OPTIONAL_TARGET_KEYS),
            f"{where}.{level}",
            set(TARGET_KEYS),
        )
        values = {}
        for key in [*TARGET_KEYS, *(k for k in OPTIONAL_TARGET_KEYS if k in target)]:
            value = target[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                _fail(f"{where}.{level}", f"{key} must be a number")
            values[key] = float(value)
        if not 0 < values["precision_12m"] <= 1:
            _fail(f"{where}.{level}", "precision_12m must be in (0, 1]")
        if values["max_alerts_per_week_per_1000"] <= 0:
            _fail(f"{where}.{level}", "max_alerts_per_week_per_1000 must be positive")
        if not 0 < values.get("max_false_alarm_rate", 1) <= 1:
            _fail(f"{where}.{level}", "max_false_alarm_rate must be in (0, 1]")
        out[level] = values
    for lower, higher in zip(catalog.LEVELS, catalog.LEVELS[1:], strict=False):
        if out[higher]["precision_12m"] < out[lower]["precision_12m"]:
            _fail(where, f"{higher} promises less precision than {lower}")
        if out[higher]["max_alerts_per_week_per_1000"] > out[lower]["max_alerts_per_week_per_1000"]:
            _fail(where, f"{higher} allows more alerts than {lower}")
    return out


def parse_ruleset(document: Any, where: str = "<rules>") -> Ruleset:
    doc = _keys(
        document,
        {
            "ruleset",
            "version",
            "released",
            "changelog",
            "targets",
            "defaults",
            "contagion",
            "rules",
        },
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
        targets=_targets(doc["targets"], f"{where}.targets") if "targets" in doc else {},
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


def ruleset_in_force(session) -> Ruleset:
    """The ruleset the live path and the full scan use: the version marked champion in
    ``risk_rulesets`` (set by an approved promotion, backend/risk/service/promotions.py), else
    the highest version in the folder (a database where nothing was ever promoted)."""
    version = session.scalar(
        select(RulesetState.version).where(RulesetState.status == "champion").limit(1)
    )
    if version is None:
        return load_ruleset()
    try:
        return load_ruleset(str(version))
    except RuleFileError:
        return load_ruleset()  # the champion's file is gone: the newest one, as before


def ruleset_versions(directory: Path = RULES_DIR) -> list[str]:
    """Every rule file version in the folder, oldest first."""
    return sorted(rule_files(directory), key=_version_key)
