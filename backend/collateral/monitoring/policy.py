"""The LTV policy per credit product (``ltv_policy.yaml`` beside this module), loaded and
checked once at import: a bad file stops the process at start with a message naming the
product and the field, never a wrong threshold at run time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CREDIT_KINDS = ("loan", "floorplan_line", "factoring_agreement")
LEVELS = ("ok", "warn", "alarm", "block")  # in rising order
POLICY_FILE = Path(__file__).with_name("ltv_policy.yaml")
MAX_BP = 100_000  # 1000 %: a threshold above it is a typo


class PolicyError(ValueError):
    """The LTV policy file is not usable."""


@dataclass(frozen=True)
class ProductPolicy:
    credit_kind: str
    warn_bp: int
    alarm_bp: int
    block_bp: int
    blocks: bool

    def level(self, ltv_bp: int | None) -> str | None:
        """The level an LTV reaches (None: no LTV, e.g. no valued property)."""
        if ltv_bp is None:
            return None
        if ltv_bp >= self.block_bp:
            return "block"
        if ltv_bp >= self.alarm_bp:
            return "alarm"
        if ltv_bp >= self.warn_bp:
            return "warn"
        return "ok"

    def severity(self, level: str) -> str | None:
        """The risk event's severity for a level (None: listed only, no risk event)."""
        if level == "block":
            return "critical" if self.blocks else "high"
        if level == "alarm":
            return "high"
        return None


@dataclass(frozen=True)
class LtvPolicy:
    version: int
    products: dict[str, ProductPolicy]

    def of(self, credit_kind: str) -> ProductPolicy:
        return self.products[credit_kind]


def _bp(doc: dict, kind: str, name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{kind}.{name}: a whole number of basis points, got {value!r}")
    if not 0 < value <= MAX_BP:
        raise PolicyError(f"{kind}.{name}: between 1 and {MAX_BP} bp, got {value}")
    return value


def parse_policy(doc: Any, source: str = "ltv_policy.yaml") -> LtvPolicy:
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: a mapping with 'version' and 'products'")
    unknown = set(doc) - {"version", "products"}
    if unknown:
        raise PolicyError(f"{source}: unknown keys {sorted(unknown)}")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PolicyError(f"{source}: version must be a positive whole number, got {version!r}")
    products = doc.get("products")
    if not isinstance(products, dict):
        raise PolicyError(f"{source}: products must be a mapping of credit kinds")
    missing = [k for k in CREDIT_KINDS if k not in products]
    extra = [k for k in products if k not in CREDIT_KINDS]
    if missing or extra:
        raise PolicyError(
            f"{source}: products must be exactly {list(CREDIT_KINDS)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {extra}" if extra else "")
        )
    parsed = {}
    for kind in CREDIT_KINDS:
        entry = products[kind]
        if not isinstance(entry, dict):
            raise PolicyError(f"{source}: {kind} must be a mapping")
        unknown = set(entry) - {"warn_bp", "alarm_bp", "block_bp", "blocks"}
        if unknown:
            raise PolicyError(f"{source}: {kind}: unknown keys {sorted(unknown)}")
        warn, alarm, block = (_bp(entry, kind, n) for n in ("warn_bp", "alarm_bp", "block_bp"))
        if not warn < alarm < block:
            raise PolicyError(
                f"{source}: {kind}: thresholds must rise warn < alarm < block, "
                f"got {warn}/{alarm}/{block}"
            )
        blocks = entry.get("blocks")
        if not isinstance(blocks, bool):
            raise PolicyError(f"{source}: {kind}.blocks must be true or false, got {blocks!r}")
        parsed[kind] = ProductPolicy(kind, warn, alarm, block, blocks)
    return LtvPolicy(version=version, products=parsed)


def load_policy(path: Path = POLICY_FILE) -> LtvPolicy:
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path.name}: cannot be read: {exc}") from None
    return parse_policy(doc, path.name)


POLICY = load_policy()
