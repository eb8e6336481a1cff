"""Pure factoring rules: states and their transitions, the normalised invoice key, rates and
the pricing of an advance. No database; the services feed these values and act on the answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from backend.platform.errors import Conflict, ValidationFailed
from backend.platform.money import CENT

ZERO = Decimal("0.00")
BP = 10_000
YEAR_DAYS = 360  # the interest convention of Chinese bank factoring

STATUSES = ("REGISTERED", "CONFIRMED", "FINANCED", "PAID", "SETTLED", "OVERDUE")
# status -> the statuses it may move to (splitting and transferring keep CONFIRMED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "REGISTERED": ("CONFIRMED",),
    "CONFIRMED": ("FINANCED", "PAID", "OVERDUE"),
    "FINANCED": ("PAID", "OVERDUE"),
    "OVERDUE": ("PAID",),
    "PAID": ("SETTLED",),
    "SETTLED": (),
}
# parts whose amount still counts against the agreement and the supplier once financed
OPEN_FINANCED = ("FINANCED", "OVERDUE")
AGREEMENT_STATUSES = ("active", "suspended", "closed")
OVERDUE_REPORT_DAYS = (1, 30, 90)  # a payable_overdue event at each, once

INVOICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,39}$")


def move(status: str, to: str, what: str = "payable") -> str:
    """The new status, or 409 ``illegal_transition`` naming both."""
    if to not in TRANSITIONS.get(status, ()):
        raise Conflict(
            f"a {status} {what} cannot become {to}",
            code="illegal_transition",
            details={"status": status, "to": to},
        )
    return to


def normalise_invoice_no(value: object) -> str:
    """Upper case, no spaces, dots, slashes or dashes: "fp-2026/001" and "FP2026 001" are one
    invoice."""
    if not isinstance(value, str) or not INVOICE_RE.match(value):
        raise ValidationFailed(
            "invoice_no is 1-40 letters, digits, spaces, '.', '/', '-'",
            code="invalid_invoice_no",
            details={"invoice_no": ["1-40 letters, digits, spaces, '.', '/', '-'"]},
        )
    return re.sub(r"[ ._/-]", "", value).upper()


def invoice_key(core_org_id: int, invoice_no: str) -> str:
    """The bank-wide key of an invoice: its debtor (the core enterprise) and its number."""
    return f"org{core_org_id}:{normalise_invoice_no(invoice_no)}"


def claim_key(invoice_key_: str, part_no: int) -> str:
    return f"{invoice_key_}#{part_no}"


def rate_bp(value: object, field: str, *, maximum: int = BP) -> int:
    """A rate given as a decimal string ("0.90", "0.0435") to basis points, exactly."""
    try:
        rate = Decimal(str(value)) if isinstance(value, str | int | Decimal) else None
    except InvalidOperation:
        rate = None
    if rate is None or isinstance(value, bool) or not rate.is_finite():
        raise ValidationFailed(f"{field} is not a rate", details={field: ["a decimal string"]})
    bp = rate * BP
    if bp != bp.to_integral_value() or not 0 <= bp <= maximum:
        raise ValidationFailed(
            f"{field} must be between 0 and {Decimal(maximum) / BP} in steps of 0.0001",
            details={field: ["0 to 1 with at most four decimal places"]},
        )
    return int(bp)


def bp_to_ratio(bp: int) -> str:
    return f"{Decimal(bp) / BP:.4f}"


def share(amount: Decimal, bp: int) -> Decimal:
    return (amount * bp / BP).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Pricing:
    """One advance: ``advance`` = amount x advance rate; interest (to maturity, 360-day year)
    and the fee are collected up front, so ``disbursed`` = advance - interest - fee."""

    amount: Decimal
    advance: Decimal
    interest: Decimal
    fee: Decimal
    days: int

    @property
    def disbursed(self) -> Decimal:
        return self.advance - self.interest - self.fee

    @property
    def bank_share(self) -> Decimal:
        """What the bank keeps of the core enterprise's payment: the advance (interest and fee
        were taken from it up front)."""
        return self.advance

    @property
    def holder_rest(self) -> Decimal:
        return self.amount - self.advance


def price(
    amount: Decimal,
    *,
    advance_rate_bp: int,
    interest_rate_bp: int,
    fee_rate_bp: int,
    today: date,
    maturity: date,
) -> Pricing:
    days = max(1, (maturity - today).days)
    advance = share(amount, advance_rate_bp)
    interest = (advance * interest_rate_bp * days / (BP * YEAR_DAYS)).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    fee = share(advance, fee_rate_bp)
    return Pricing(amount, advance, interest, fee, days)


def overdue_bucket(days_overdue: int) -> int | None:
    """The highest report day reached (1, 30, 90), None before the first."""
    reached = [d for d in OVERDUE_REPORT_DAYS if days_overdue >= d]
    return reached[-1] if reached else None
