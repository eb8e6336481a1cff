"""Money is Decimal CNY with two places, never float. Rendered as strings like "1250000.00"."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from backend.platform.errors import ValidationFailed

CENT = Decimal("0.01")
CURRENCY = "CNY"


# The one written form of an amount: ASCII digits, an optional leading minus, at most two
# places. No '+', no whitespace, no exponent, no '_' separators, no other scripts' digits
# (Python's Decimal() would read '１００.００', '٣.٠٠' and '1_000.00').
MONEY_RE = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,2})?", re.ASCII)
# The largest single amount anywhere (15 significant digits: exact as a double, which is how
# SQLite's REAL would hold it); the ledger's bound on one movement
# (backend/ledger/rules.py).
MAX_AMOUNT = Decimal("9999999999999.99")


def _refuse(field: str, message: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_amount", details={field: [detail]})


def parse_money(value: object, *, field: str = "amount", positive: bool = False) -> Decimal:
    """Parse an amount strictly: a string of the form ``-?[0-9]+(.[0-9]{1,2})?`` (ASCII only,
    nothing around it), an int, or a finite Decimal with at most two places; at most
    ``MAX_AMOUNT`` in magnitude. Floats and bools are refused: 0.1 + 0.2 is not money.
    """
    if isinstance(value, bool | float):
        raise _refuse(
            field,
            f"{field} must be a decimal string, not a float",
            "must be a decimal string such as '100.00'",
        )
    if isinstance(value, str):
        if not MONEY_RE.fullmatch(value):
            raise _refuse(
                field,
                f"{field} is not a decimal number such as '100.00'",
                "ASCII digits, an optional '-', at most two decimal places, nothing else",
            )
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
        if not amount.is_finite():
            raise _refuse(field, f"{field} must be finite", "not finite")
        try:
            exact = amount == amount.quantize(CENT)
        except InvalidOperation:  # too many digits to quantize: far beyond MAX_AMOUNT
            exact = True
        if not exact:
            raise _refuse(
                field, f"{field} has more than two decimal places", "at most two decimal places"
            )
    else:
        raise _refuse(field, f"{field} is not a decimal number", "not a decimal number")
    if abs(amount) > MAX_AMOUNT:
        raise _refuse(field, f"{field} exceeds {MAX_AMOUNT}", f"at most {MAX_AMOUNT}")
    if positive and amount <= 0:
        raise _refuse(field, f"{field} must be greater than zero", "must be > 0")
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
