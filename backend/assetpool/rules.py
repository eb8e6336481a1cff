"""The pool's arithmetic, pure: which asset is eligible under a configuration and why not,
its haircut and value, the capacity, the fee and margin of a new bill, the maturity ladder.

A configuration's values (one version of ``ap_configs``)::

    issuers            {bank: tier}: the banks whose e-bills and e-deposits the pool takes, and
                       the tier of each (state | joint_stock | other); a bank not listed is
                       not eligible
    haircuts_bp        {"ebill": {tier: bp}, "edeposit": bp, "margin": bp}
    min_tenor_days     an asset with fewer days left is not eligible (it soon turns into cash)
    max_tenor_days     nor one with more
    fee_rate_bp        acceptance fee of a new bill, on its face value
    margin_ratio_bp    margin frozen from the enterprise's deposit for a new bill
    max_bill_days      the longest a new bill may run
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from backend.platform.errors import ValidationFailed

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ASSET_KINDS = ("ebill", "edeposit")
ASSET_STATUSES = ("held", "pledged", "matured")
BILL_STATUSES = ("outstanding", "paid")
TIERS = ("state", "joint_stock", "other")
MAX_BP = 10000

DEFAULT_CONFIG: dict = {
    "issuers": {
        "ICBC": "state",
        "ABC": "state",
        "BOC": "state",
        "CCB": "state",
        "BOCOM": "state",
        "PSBC": "state",
        "CMB": "joint_stock",
        "CITIC": "joint_stock",
        "SPDB": "joint_stock",
        "CIB": "joint_stock",
        "CMBC": "joint_stock",
        "NBCB": "other",
        "BOJ": "other",
    },
    "haircuts_bp": {
        "ebill": {"state": 10000, "joint_stock": 9500, "other": 9000},
        "edeposit": 10000,
        "margin": 10000,
    },
    "min_tenor_days": 7,
    "max_tenor_days": 366,
    "fee_rate_bp": 5,
    "margin_ratio_bp": 0,
    "max_bill_days": 366,
}


def _bad(field: str, why: str) -> ValidationFailed:
    return ValidationFailed(
        f"configuration: {field} {why}", code="invalid_config", details={field: [why]}
    )


def _bp(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BP:
        raise _bad(field, f"must be an integer of basis points, 0 to {MAX_BP}")
    return value


def _days(value: object, field: str, low: int = 0, high: int = 3660) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(field, f"must be an integer between {low} and {high}")
    return value


def validate_config(values: dict) -> dict:
    """The complete values of a new version: ``values`` over the defaults, each checked."""
    merged = {**DEFAULT_CONFIG, **values}
    unknown = set(values) - set(DEFAULT_CONFIG)
    if unknown:
        raise _bad(sorted(unknown)[0], "is not a configuration field")
    issuers = merged["issuers"]
    if not isinstance(issuers, dict) or not issuers or len(issuers) > 500:
        raise _bad("issuers", "must map 1 to 500 bank codes to tiers")
    for bank, tier in issuers.items():
        if not isinstance(bank, str) or not 1 <= len(bank) <= 40 or tier not in TIERS:
            raise _bad("issuers", f"each bank code 1-40 characters, tier one of {TIERS}")
    hc = merged["haircuts_bp"]
    if not isinstance(hc, dict) or set(hc) != {"ebill", "edeposit", "margin"}:
        raise _bad("haircuts_bp", "must have ebill, edeposit and margin")
    if not isinstance(hc["ebill"], dict) or set(hc["ebill"]) != set(TIERS):
        raise _bad("haircuts_bp", f"ebill must give every tier {TIERS}")
    for tier in TIERS:
        _bp(hc["ebill"][tier], f"haircuts_bp.ebill.{tier}")
    _bp(hc["edeposit"], "haircuts_bp.edeposit")
    _bp(hc["margin"], "haircuts_bp.margin")
    _days(merged["min_tenor_days"], "min_tenor_days")
    _days(merged["max_tenor_days"], "max_tenor_days", 1)
    if merged["min_tenor_days"] > merged["max_tenor_days"]:
        raise _bad("min_tenor_days", "must not exceed max_tenor_days")
    _bp(merged["fee_rate_bp"], "fee_rate_bp")
    _bp(merged["margin_ratio_bp"], "margin_ratio_bp")
    _days(merged["max_bill_days"], "max_bill_days", 1, 366)
    return merged


def share(amount: Decimal, bp: int, rounding=ROUND_HALF_UP) -> Decimal:
    return (amount * bp / MAX_BP).quantize(CENT, rounding=rounding)


def valued(amount: Decimal, bp: int) -> Decimal:
    """Amount × haircut, rounded down: the pool never counts a cent it does not hold."""
    return share(amount, bp, ROUND_DOWN)


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]
    tier: str | None
    haircut_bp: int

    def value(self, amount: Decimal) -> Decimal:
        return valued(amount, self.haircut_bp) if self.eligible else ZERO


def eligibility(config: dict, kind: str, issuer: str, maturity: date, today: date) -> Eligibility:
    """Whether an asset counts in the pool today, its tier and haircut; reasons when not:
    issuer_not_eligible, matured, tenor_too_short, tenor_too_long."""
    reasons = []
    tier = config["issuers"].get(issuer)
    if tier is None:
        reasons.append("issuer_not_eligible")
    left = (maturity - today).days
    if left <= 0:
        reasons.append("matured")
    elif left < config["min_tenor_days"]:
        reasons.append("tenor_too_short")
    if left > config["max_tenor_days"]:
        reasons.append("tenor_too_long")
    hc = config["haircuts_bp"]
    haircut = hc["edeposit"] if kind == "edeposit" else hc["ebill"].get(tier or "other", 0)
    return Eligibility(not reasons, tuple(reasons), tier, haircut)


def capacity(pledged_value: Decimal, margin_cash: Decimal, margin_bp: int, outstanding: Decimal):
    """(margin value, capacity): Σ pledged value + margin cash × haircut − outstanding bills."""
    margin_value = valued(max(margin_cash, ZERO), margin_bp)
    return margin_value, pledged_value + margin_value - outstanding


def bill_charges(config: dict, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(acceptance fee, margin) of a new bill of ``amount`` under ``config``."""
    return share(amount, config["fee_rate_bp"]), share(amount, config["margin_ratio_bp"])


# --------------------------------------------------------------------------- the ladder


@dataclass(frozen=True)
class LadderAsset:
    amount: Decimal
    kind: str
    issuer: str
    maturity: date


@dataclass(frozen=True)
class LadderBill:
    amount: Decimal
    maturity: date


def bucket_ends(today: date, granularity: str, periods: int) -> list[date]:
    if granularity == "week":
        return [today + timedelta(days=7 * i) for i in range(1, periods + 1)]
    ends, year, month = [], today.year, today.month
    for _ in range(periods):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        ends.append(date(year, month, 1) - timedelta(days=1))
    return ends


def project(
    config: dict,
    assets: list[LadderAsset],
    bills: list[LadderBill],
    margin_cash: Decimal,
    day: date,
) -> dict:
    """The pool on ``day`` if nothing is added: assets matured by then have turned into margin
    cash, bills due by then were paid from it, the tenor rules are applied as of that day."""
    pledged = ZERO
    cash = margin_cash
    for a in assets:
        if a.maturity <= day:
            cash += a.amount
        else:
            pledged += eligibility(config, a.kind, a.issuer, a.maturity, day).value(a.amount)
    outstanding = ZERO
    for b in bills:
        if b.maturity <= day:
            cash -= b.amount
        else:
            outstanding += b.amount
    _, cap = capacity(pledged, cash, config["haircuts_bp"]["margin"], outstanding)
    return {
        "date": day,
        "pledged_value": pledged,
        "margin_cash": max(cash, ZERO),
        "outstanding": outstanding,
        "capacity": cap,
    }
