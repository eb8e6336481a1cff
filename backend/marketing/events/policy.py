"""The marketing event policy (``policy.yaml`` beside this module), loaded and checked once at
import: a bad file stops the process at start with a message naming the key, never a wrong
threshold at run time."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from backend.marketing import synth
from backend.marketing.synth import TIERS

POLICY_FILE = Path(__file__).with_name("policy.yaml")
HOLDING_KINDS = ("demand", "time", "wealth", "loan")
TXN_KINDS = synth.TXN_KINDS  # the feed's kinds (the generator writes the same)
SECTIONS = {
    "version": None,
    "large_movement": {"thresholds"},
    "maturity": {"days_ahead", "kinds"},
    "early_repayment": {"transaction_kinds"},
    "dormancy": {"days"},
    "vip_arrival": {"tiers"},
}


class PolicyError(ValueError):
    """The event policy file is not usable."""


@dataclass(frozen=True)
class EventPolicy:
    version: int
    thresholds: dict[str, Decimal]  # tier -> CNY
    maturity_days: tuple[int, ...]  # descending, e.g. (30, 7)
    maturity_kinds: tuple[str, ...]
    prepay_kinds: tuple[str, ...]
    dormancy_days: int
    vip_tiers: tuple[str, ...]

    def threshold_fen(self) -> dict[str, int]:
        return {tier: int(value * 100) for tier, value in self.thresholds.items()}


def _whole(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise PolicyError(f"{where}: a whole number from {lo} to {hi}, got {value!r}")
    return value


def _names(value: Any, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError(f"{where}: a non-empty list of {', '.join(allowed)}")
    for item in value:
        if item not in allowed:
            raise PolicyError(f"{where}: unknown {item!r} (one of {', '.join(allowed)})")
    return tuple(value)


def parse_policy(doc: Any, source: str = "policy.yaml") -> EventPolicy:
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: a mapping with {', '.join(SECTIONS)}")
    for key in doc:
        if key not in SECTIONS:
            raise PolicyError(f"{source}: unknown key {key!r}")
    for key, fields in SECTIONS.items():
        if key not in doc:
            raise PolicyError(f"{source}: {key} is missing")
        if fields is None:
            continue
        section = doc[key]
        if not isinstance(section, dict) or set(section) != fields:
            raise PolicyError(f"{source}: {key} needs exactly {', '.join(sorted(fields))}")
    version = _whole(doc["version"], f"{source}: version", 1, 10**6)
    raw = doc["large_movement"]["thresholds"]
    if not isinstance(raw, dict) or set(raw) != set(TIERS):
        raise PolicyError(f"{source}: large_movement.thresholds needs {', '.join(TIERS)}")
    thresholds = {
        tier: Decimal(_whole(raw[tier], f"large_movement.thresholds.{tier}", 1, 10**12))
        for tier in TIERS
    }
    days = doc["maturity"]["days_ahead"]
    if not isinstance(days, list) or not days or len(set(days)) != len(days):
        raise PolicyError(f"{source}: maturity.days_ahead: distinct whole numbers of days")
    lead = tuple(sorted((_whole(d, "maturity.days_ahead", 1, 3650) for d in days), reverse=True))
    return EventPolicy(
        version=version,
        thresholds=thresholds,
        maturity_days=lead,
        maturity_kinds=_names(doc["maturity"]["kinds"], "maturity.kinds", HOLDING_KINDS),
        prepay_kinds=_names(
            doc["early_repayment"]["transaction_kinds"],
            "early_repayment.transaction_kinds",
            TXN_KINDS,
        ),
        dormancy_days=_whole(doc["dormancy"]["days"], "dormancy.days", 1, 3650),
        vip_tiers=_names(doc["vip_arrival"]["tiers"], "vip_arrival.tiers", TIERS),
    )


def load_policy(path: Path = POLICY_FILE) -> EventPolicy:
    with path.open(encoding="utf-8") as fh:
        return parse_policy(yaml.safe_load(fh), path.name)


POLICY = load_policy()
