"""Money is Decimal CNY with two places, never float. Rendered as strings like "1250000.00"."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from backend.platform.errors import ValidationFailed

CENT = Decimal("0.01")
CURRENCY = "CNY"


def parse_money(value: object, *, field: str = "amount", positive: bool = False) -> Decimal:
    """Parse a decimal string (or Decimal/int) strictly: at most two places, finite.

    Floats are refused: 0.1 + 0.2 is not money.
    """
    if isinstance(value, bool | float):
        raise ValidationFailed(
            f"{field} must be a decimal string, not a float",
            code="invalid_amount",
            details={field: ["must be a decimal string such as '100.00'"]},
        )
    try:
        amount = Decimal(str(value).strip())
        exact = amount.is_finite() and amount == amount.quantize(CENT)
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            f"{field} is not a decimal number",
            code="invalid_amount",
            details={field: ["not a decimal number"]},
        ) from None
    if not amount.is_finite():
        raise ValidationFailed(
            f"{field} must be finite", code="invalid_amount", details={field: ["not finite"]}
        )
    if not exact:
        raise ValidationFailed(
            f"{field} has more than two decimal places",
            code="invalid_amount",
            details={field: ["at most two decimal places"]},
        )
    if positive and amount <= 0:
        raise ValidationFailed(
            f"{field} must be greater than zero",
            code="invalid_amount",
            details={field: ["must be > 0"]},
        )
    return amount.quantize(CENT)


def quantize(amount: Decimal) -> Decimal:
    """Round a computed amount (e.g. a pro-rata share) to fen, banker's rounding."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def to_fen(amount: Decimal) -> int:
    return int(amount.quantize(CENT) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)
