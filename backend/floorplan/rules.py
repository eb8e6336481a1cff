"""Pure floor-plan rules: statuses, ratios, allocation, maturity sweep arithmetic, aging and
audit sampling. No database; the services feed these values and act on the answers."""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from backend.platform.errors import ValidationFailed
from backend.platform.money import CENT, quantize

ZERO = Decimal("0.00")
BP = 10_000  # basis points in 1

VEHICLE_STATUSES = (
    "in_transit",
    "arrived",
    "in_stock",
    "redeemed",
    "released",
    "released_unpaid",
    "out_of_trust",
)
# Cars whose financed amount is still owed (they count in the credit line's used amount).
UNPAID = ("in_transit", "arrived", "in_stock", "released_unpaid", "out_of_trust")
REDEEMABLE = ("in_stock", "released_unpaid", "out_of_trust")
IN_YARD = ("in_stock",)
BILL_STATUSES = ("requested", "issued", "shipped", "settled", "overdue", "rejected")
OPEN_BILL = ("issued", "shipped")
REDEEM_MODES = ("full", "margin")
BILL_TERMS = (3, 6)

SEVERITIES = ("weak", "medium", "strong", "hard")
ALERT_STATUSES = ("open", "acknowledged", "resolved")

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def validate_vin(vin: object, field: str = "vin") -> str:
    """17 characters, digits and capitals without I, O, Q (ISO 3779)."""
    if not isinstance(vin, str) or not VIN_RE.match(vin):
        raise ValidationFailed(
            "a VIN is 17 characters: digits and capital letters except I, O and Q",
            code="invalid_vin",
            details={field: ["17 characters: 0-9, A-Z except I, O, Q"]},
        )
    return vin


def validate_choice(value: object, choices: Sequence, field: str, code: str) -> object:
    if value not in choices:
        raise ValidationFailed(
            f"{field} must be one of {', '.join(map(str, choices))}",
            code=code,
            details={field: [f"one of {', '.join(map(str, choices))}"]},
        )
    return value


# --------------------------------------------------------------------------- ratios


def ratio_to_bp(value: object, field: str = "ratio") -> int:
    """'0.30' -> 3000. Between 0 and 1, at most four decimal places; floats refused."""
    if isinstance(value, bool | float):
        raise ValidationFailed(
            f"{field} must be a decimal string", code="invalid_ratio", details={field: ["string"]}
        )
    try:
        ratio = Decimal(str(value))
    except (InvalidOperation, ValueError):
        ratio = Decimal("NaN")
    if not ratio.is_finite() or not 0 <= ratio <= 1 or ratio != ratio.quantize(Decimal("0.0001")):
        raise ValidationFailed(
            f"{field} must be a decimal between 0 and 1 with at most four places",
            code="invalid_ratio",
            details={field: ["between 0 and 1, at most four decimal places"]},
        )
    return int(ratio * BP)


def bp_to_ratio(bp: int) -> str:
    return str((Decimal(bp) / BP).quantize(Decimal("0.0001")))


def share(amount: Decimal, bp: int) -> Decimal:
    """``amount`` times a ratio in basis points, rounded to fen."""
    return quantize(amount * bp / BP)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights`` so that the parts add up to it exactly
    (largest remainder, in fen). Used to turn one bill's margin into per-car margins."""
    if not weights:
        return []
    fen_total = int(total / CENT)
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("weights must add up to more than zero")
    raw = [Decimal(fen_total) * w / weight_sum for w in weights]
    floors = [int(r.to_integral_value(rounding=ROUND_DOWN)) for r in raw]
    left = fen_total - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(f) * CENT for f in floors]


# --------------------------------------------------------------------------- time


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def days_between(start: datetime | None, end: datetime) -> int:
    if start is None:
        return 0
    return max(0, (end - start).days)


def aging_level(days: int, thresholds: Sequence[int]) -> int:
    """The highest threshold ``days`` has reached, 0 when none."""
    reached = [t for t in sorted(thresholds) if days >= t]
    return reached[-1] if reached else 0


def aging_severity(threshold: int, thresholds: Sequence[int]) -> str:
    """First threshold weak, second medium, third and later strong."""
    index = sorted(thresholds).index(threshold)
    return ("weak", "medium", "strong")[min(index, 2)]


# --------------------------------------------------------------------------- maturity sweep


@dataclass(frozen=True)
class SweepUnit:
    """One unpaid unit of a bill at maturity (a car, or the bill itself when never shipped)."""

    key: str
    outstanding: Decimal
    margin_held: Decimal


@dataclass(frozen=True)
class SweepLine:
    key: str
    margin_posted: Decimal  # from the unit's own margin hold
    covered: Decimal  # from free margin or deposit
    advanced: Decimal  # paid by the bank's advance, now owed by the dealer


@dataclass(frozen=True)
class SweepPlan:
    lines: list[SweepLine]
    from_margin: Decimal
    from_deposit: Decimal
    shortfall: Decimal

    @property
    def margin_posted(self) -> Decimal:
        return sum((line.margin_posted for line in self.lines), ZERO)


def plan_sweep(
    units: Sequence[SweepUnit], margin_available: Decimal, deposit_available: Decimal
) -> SweepPlan:
    """How a maturing bill's unpaid units are paid: each unit's own margin hold first, then the
    dealer's free margin (including what posting the holds released), then the deposit; what
    is left is the shortfall the bank advances. Units are covered in the order given."""
    lines = []
    free_margin = max(margin_available, ZERO)
    posted = []
    for unit in units:
        post = min(unit.margin_held, unit.outstanding)
        free_margin += unit.margin_held - post  # a partial post releases the rest of the hold
        posted.append(post)
    free_deposit = max(deposit_available, ZERO)
    from_margin = from_deposit = shortfall = ZERO
    for unit, post in zip(units, posted, strict=True):
        rest = unit.outstanding - post
        take_m = min(rest, free_margin)
        free_margin -= take_m
        take_d = min(rest - take_m, free_deposit)
        free_deposit -= take_d
        advanced = rest - take_m - take_d
        from_margin += take_m
        from_deposit += take_d
        shortfall += advanced
        lines.append(SweepLine(unit.key, post, take_m + take_d, advanced))
    return SweepPlan(lines, from_margin, from_deposit, shortfall)


# --------------------------------------------------------------------------- audits


@dataclass(frozen=True)
class DealerRiskFacts:
    in_stock: int
    aged: int  # in stock beyond the first aging threshold
    out_of_trust: int
    open_hard_alerts: int
    overdue_advance: Decimal
    overdue_curtailments: int


def dealer_risk_tier(facts: DealerRiskFacts) -> str:
    """high / medium / low: how closely a dealer's yard is watched."""
    if facts.out_of_trust or facts.open_hard_alerts or facts.overdue_advance > 0:
        return "high"
    aged_share = facts.aged / facts.in_stock if facts.in_stock else 0
    if facts.overdue_curtailments or aged_share >= 0.2:
        return "medium"
    return "low"


AUDIT_INTERVAL_DAYS = {"high": 7, "medium": 14, "low": 30}
AUDIT_SAMPLE_BP = {"high": BP, "medium": 5000, "low": 2000}
AUDIT_MIN_SAMPLE = 10


def sample_size(population: int, sample_bp: int) -> int:
    if population <= AUDIT_MIN_SAMPLE:
        return population
    wanted = -(-population * sample_bp // BP)  # ceiling
    return min(population, max(AUDIT_MIN_SAMPLE, wanted))


def sample_vins(vins: Sequence[str], sample_bp: int, seed: str) -> list[str]:
    """A deterministic sample (stable for one audit, different between audits)."""
    size = sample_size(len(vins), sample_bp)

    def rank(vin: str) -> str:
        return hashlib.sha256(f"{seed}:{vin}".encode()).hexdigest()

    return sorted(sorted(vins, key=rank)[:size])
