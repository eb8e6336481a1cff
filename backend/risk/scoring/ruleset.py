"""Rules and rulesets as values: a ``Rule`` (id, title, level, condition, reason template,
escalation), the ``Ruleset`` of one version (its rules and the contagion parameters), and the
``Finding`` a rule yields when its condition holds.

A rule file (``rulefile.py``) becomes a ``Ruleset``; ``Ruleset.evaluate(ctx)`` tests every rule
against one enterprise at one moment.  A finding's evidence keys (event ids, feature values,
tags) drive de-duplication and escalation in backend/risk/signals/lifecycle.py; model and
contagion findings (``assessment.py``) take the same shape."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from backend.risk import catalog
from backend.risk.scoring.conditions import Condition, RuleContext


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
    # level -> {"precision_12m", "max_alerts_per_week_per_1000"} (rule files from version 3)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)

    def evaluate(self, ctx: RuleContext) -> list[Finding]:
        return [f for rule in self.rules if (f := rule.evaluate(ctx, self.version)) is not None]
