"""Pure ledger rules: validation of inputs and the balance arithmetic of each transfer kind.

No database here: the service copies locked account rows into ``Balances`` values, applies
legs in order with these functions (each raises a DomainError when a rule refuses), and writes
the results back. Tests drive these functions directly.

Sign conventions (TigerBeetle's): every account keeps four non-negative totals,
``debits_posted``, ``credits_posted``, ``debits_pending``, ``credits_pending``. A transfer of
``a`` from D to C adds ``a`` to D's debits and C's credits (posted for a single transfer, pending
for a hold). Posting a hold of ``p`` in the amount ``a <= p`` removes ``p`` from both pending
totals and adds ``a`` to both posted totals; voiding or expiring removes ``p`` from pending only.

Which way is "positive" depends on the account's normal side:
- credit-normal (deposit, margin, bill, suspense, internal): the bank owes the owner.
  posted = credits_posted - debits_posted, pending = debits_pending (funds held on the way out),
  available = posted - debits_pending.
- debit-normal (loan, cash_in_device): the owner owes the bank, or cash sits in a machine.
  posted = debits_posted - credits_posted, pending = credits_pending,
  available = posted - credits_pending.

Flags (at most one): ``debits_must_not_exceed_credits`` (a deposit cannot be overdrawn:
debits_posted + debits_pending <= credits_posted) and ``credits_must_not_exceed_debits``
(a cash unit cannot pay out more than was loaded: credits_posted + credits_pending <=
debits_posted). Holds count against the limit, posted credits only count for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from backend.platform.errors import BusinessRuleViolation, ValidationFailed
from backend.platform.money import CURRENCY, MAX_AMOUNT, parse_money

ACCOUNT_KINDS = ("deposit", "margin", "loan", "bill", "suspense", "internal", "cash_in_device")
DEBIT_NORMAL_KINDS = frozenset({"loan", "cash_in_device"})
TRANSFER_KINDS = ("single", "pending", "post_pending", "void_pending", "expire_pending")
RESOLUTION_KINDS = ("post_pending", "void_pending", "expire_pending")
POSTED_KINDS = ("single", "post_pending")
HOLD_STATES = ("pending", "posted", "voided", "expired")
RESOLUTION_STATE = {"post_pending": "posted", "void_pending": "voided", "expire_pending": "expired"}

# One movement: at most MAX_AMOUNT (15 significant digits), the bound of every money input.
# Bounds on what an account may hold, checked in the posting transaction (422
# ``balance_limit_exceeded``): the balance either way, pending included (1,000 movements of
# MAX_AMOUNT), and each side's running total (posted + pending), which only grows with
# turnover; 9e18 fen fits a 64-bit integer, so SUM() in fen never overflows on SQLite, and
# NUMERIC(20, 2) on PostgreSQL. A movement that lowers a figure is never refused by them.
MAX_BALANCE = Decimal("9999999999999999.99")
MAX_TOTAL = Decimal("90000000000000000.00")
MAX_BATCH = 1000
MAX_TIMEOUT_S = 366 * 24 * 3600

# Client-chosen ids. '~' is reserved for ids the ledger derives (hold~post, hold~expire, ...).
TRANSFER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@#-]{0,63}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
ACCOUNT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@#-]{0,79}$")


def default_flags(kind: str) -> tuple[bool, bool]:
    """(debits_must_not_exceed_credits, credits_must_not_exceed_debits) for a new account."""
    if kind in ("deposit", "margin"):
        return True, False
    if kind == "cash_in_device":
        return False, True
    return False, False


def normal_side(kind: str) -> str:
    return "debit" if kind in DEBIT_NORMAL_KINDS else "credit"


def validate_account_kind(kind: str) -> str:
    if kind not in ACCOUNT_KINDS:
        raise ValidationFailed(
            f"unknown account kind {kind!r}",
            code="invalid_account_kind",
            details={"kind": [f"one of {', '.join(ACCOUNT_KINDS)}"]},
        )
    return kind


def validate_flags(debits_must_not_exceed_credits: bool, credits_must_not_exceed_debits: bool):
    if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
        raise ValidationFailed(
            "an account takes at most one of the two limit flags",
            code="invalid_account_flags",
            details={
                "flags": ["debits_must_not_exceed_credits and credits_must_not_exceed_debits"]
            },
        )


def validate_account_code(code: object) -> str:
    if not isinstance(code, str) or not ACCOUNT_CODE_RE.match(code):
        raise ValidationFailed(
            "account code must be 1 to 80 characters: letters, digits and ._:/@#-",
            code="invalid_account_code",
            details={"code": ["1 to 80 characters: letters, digits and ._:/@#-"]},
        )
    return code


def validate_currency(currency: object, field: str = "currency") -> str:
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        raise ValidationFailed(
            f"{field} must be an ISO 4217 code such as {CURRENCY}",
            code="invalid_currency",
            details={field: ["three upper-case letters, e.g. CNY"]},
        )
    return currency


def validate_amount(value: object, field: str = "amount") -> Decimal:
    """Positive, at most two places, not a float, at most MAX_AMOUNT."""
    try:
        amount = parse_money(value, field=field, positive=True)
    except InvalidOperation:  # e.g. "1e400": too many digits to quantize
        amount = MAX_AMOUNT + 1
    if amount > MAX_AMOUNT:
        raise ValidationFailed(
            f"{field} exceeds {MAX_AMOUNT}",
            code="invalid_amount",
            details={field: [f"at most {MAX_AMOUNT}"]},
        )
    return amount


def validate_transfer_id(value: object, field: str = "transfer_id") -> str:
    if not isinstance(value, str) or not TRANSFER_ID_RE.match(value):
        raise ValidationFailed(
            f"{field} must be 1 to 64 characters: letters, digits and ._:/@#-",
            code="invalid_transfer_id",
            details={field: ["1 to 64 characters: letters, digits and ._:/@#-"]},
        )
    return value


def validate_code(value: object, field: str = "code") -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 40:
        raise ValidationFailed(
            f"{field} must be 1 to 40 characters",
            code="invalid_transfer_code",
            details={field: ["1 to 40 characters"]},
        )
    return value


def validate_reference(value: object, field: str = "reference") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise ValidationFailed(
            f"{field} must be at most 200 characters",
            code="invalid_reference",
            details={field: ["at most 200 characters"]},
        )
    return value


def validate_timeout(timeout_s: object, expires_at: datetime | None) -> int | None:
    if timeout_s is not None and expires_at is not None:
        raise ValidationFailed(
            "give timeout_s or expires_at, not both",
            code="invalid_timeout",
            details={"timeout_s": ["not together with expires_at"]},
        )
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValidationFailed(
            "expires_at must be timezone-aware",
            code="invalid_timeout",
            details={"expires_at": ["timezone-aware UTC"]},
        )
    if timeout_s is None:
        return None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int):
        raise ValidationFailed(
            "timeout_s must be an integer", code="invalid_timeout", details={"timeout_s": ["int"]}
        )
    if not 1 <= timeout_s <= MAX_TIMEOUT_S:
        raise ValidationFailed(
            f"timeout_s must be between 1 and {MAX_TIMEOUT_S}",
            code="invalid_timeout",
            details={"timeout_s": [f"between 1 and {MAX_TIMEOUT_S}"]},
        )
    return timeout_s


@dataclass
class Balances:
    """A working copy of one account's totals and the rules that bind them."""

    account_id: int
    currency: str
    status: str
    debits_posted: Decimal
    credits_posted: Decimal
    debits_pending: Decimal
    credits_pending: Decimal
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False

    def totals(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        return self.debits_posted, self.credits_posted, self.debits_pending, self.credits_pending


@dataclass(frozen=True)
class BalanceView:
    """Balances as a person reads them, from the account's normal side."""

    posted: Decimal
    pending: Decimal
    available: Decimal


def view(b: Balances, kind: str) -> BalanceView:
    if normal_side(kind) == "debit":
        posted = b.debits_posted - b.credits_posted
        return BalanceView(posted, b.credits_pending, posted - b.credits_pending)
    posted = b.credits_posted - b.debits_posted
    return BalanceView(posted, b.debits_pending, posted - b.debits_pending)


def check_open(b: Balances) -> None:
    if b.status != "open":
        raise BusinessRuleViolation(
            f"account {b.account_id} is closed",
            code="account_closed",
            details={"account_id": b.account_id},
        )


def check_currency(currency: str, *accounts: Balances) -> None:
    for b in accounts:
        if b.currency != currency:
            raise BusinessRuleViolation(
                f"transfer in {currency} but account {b.account_id} is in {b.currency}",
                code="currency_mismatch",
                details={"account_id": b.account_id, "currency": currency},
            )


def check_distinct(debit_account_id: int, credit_account_id: int) -> None:
    if debit_account_id == credit_account_id:
        raise ValidationFailed(
            "debit and credit account must differ",
            code="accounts_must_differ",
            details={"credit_account_id": ["must differ from debit_account_id"]},
        )


def check_limits(b: Balances) -> None:
    if b.debits_must_not_exceed_credits and b.debits_posted + b.debits_pending > b.credits_posted:
        available = b.credits_posted - b.debits_posted - b.debits_pending
        raise BusinessRuleViolation(
            f"insufficient funds on account {b.account_id}",
            code="insufficient_funds",
            details={"account_id": b.account_id, "shortfall": str(-available)},
        )
    if b.credits_must_not_exceed_debits and b.credits_posted + b.credits_pending > b.debits_posted:
        available = b.debits_posted - b.credits_posted - b.credits_pending
        raise BusinessRuleViolation(
            f"credits would exceed debits on account {b.account_id}",
            code="exceeds_debits",
            details={"account_id": b.account_id, "shortfall": str(-available)},
        )


def _bound_figures(t: tuple[Decimal, Decimal, Decimal, Decimal]) -> dict[str, Decimal]:
    dp, cp, dpend, cpend = t
    return {
        "debit_balance": dp + dpend - cp,
        "credit_balance": cp + cpend - dp,
        "debits_total": dp + dpend,
        "credits_total": cp + cpend,
    }


def check_bounds(b: Balances, before: tuple[Decimal, Decimal, Decimal, Decimal]) -> None:
    """Refuse a movement that raises an account's balance (either way, pending included)
    above MAX_BALANCE or a side's running total above MAX_TOTAL."""
    was, now = _bound_figures(before), _bound_figures(b.totals())
    for name, value in now.items():
        limit = MAX_TOTAL if name.endswith("_total") else MAX_BALANCE
        if value > limit and value > was[name]:
            raise BusinessRuleViolation(
                f"account {b.account_id} would exceed its {name.replace('_', ' ')} limit",
                code="balance_limit_exceeded",
                details={"account_id": b.account_id, "figure": name, "limit": str(limit)},
            )


def _require_movable(debit: Balances, credit: Balances, currency: str) -> None:
    check_distinct(debit.account_id, credit.account_id)
    check_open(debit)
    check_open(credit)
    check_currency(currency, debit, credit)


def apply_single(debit: Balances, credit: Balances, amount: Decimal, currency: str) -> None:
    """A transfer posted at once. Mutates both working copies only if every rule passes."""
    _require_movable(debit, credit, currency)
    _checked(debit, credit, dp=amount, cp=amount)


def apply_pending(debit: Balances, credit: Balances, amount: Decimal, currency: str) -> None:
    """A hold: reserves ``amount`` on both sides; the debit side's available falls at once."""
    _require_movable(debit, credit, currency)
    _checked(debit, credit, dpend=amount, cpend=amount)


def apply_post(debit: Balances, credit: Balances, held: Decimal, amount: Decimal) -> None:
    """Post ``amount`` of a hold of ``held``; the rest (held - amount) is released."""
    if amount > held:
        raise BusinessRuleViolation(
            f"cannot post {amount}: the hold is {held}",
            code="amount_exceeds_hold",
            details={"amount": str(amount), "held": str(held)},
        )
    check_open(debit)
    check_open(credit)
    _checked(debit, credit, dp=amount, cp=amount, dpend=-held, cpend=-held)


def apply_release(debit: Balances, credit: Balances, held: Decimal) -> None:
    """Void or expiry: the held amount returns to available, nothing is posted."""
    _checked(debit, credit, dpend=-held, cpend=-held)


def _checked(
    debit: Balances,
    credit: Balances,
    *,
    dp: Decimal = Decimal(0),
    cp: Decimal = Decimal(0),
    dpend: Decimal = Decimal(0),
    cpend: Decimal = Decimal(0),
) -> None:
    # dp/dpend land on the debit account's debit totals, cp/cpend on the credit account's credits.
    before = debit.totals(), credit.totals()
    debit.debits_posted += dp
    debit.debits_pending += dpend
    credit.credits_posted += cp
    credit.credits_pending += cpend
    try:
        if debit.debits_pending < 0 or credit.credits_pending < 0:
            raise AssertionError("pending total would go negative: ledger out of balance")
        check_limits(debit)
        check_limits(credit)
        check_bounds(debit, before[0])
        check_bounds(credit, before[1])
    except BaseException:
        _restore(debit, before[0])
        _restore(credit, before[1])
        raise


def _restore(b: Balances, totals: tuple[Decimal, Decimal, Decimal, Decimal]) -> None:
    b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending = totals


def check_resolvable(state: str, expires_at: datetime | None, now: datetime, hold_ref: str):
    """A hold can be posted or voided only while pending and not past its deadline."""
    if state != "pending":
        raise BusinessRuleViolation(
            f"hold {hold_ref!r} is already {state}",
            code="hold_already_resolved",
            details={"hold": hold_ref, "state": state},
        )
    if expires_at is not None and expires_at <= now:
        raise BusinessRuleViolation(
            f"hold {hold_ref!r} expired at {expires_at.isoformat()}",
            code="hold_expired",
            details={"hold": hold_ref, "expires_at": expires_at.isoformat()},
        )


def check_closable(b: Balances) -> None:
    if any(b.totals()[2:]):
        raise BusinessRuleViolation(
            f"account {b.account_id} has holds outstanding",
            code="account_has_holds",
            details={"account_id": b.account_id},
        )
    if b.debits_posted != b.credits_posted:
        raise BusinessRuleViolation(
            f"account {b.account_id} has a balance; move it out before closing",
            code="account_not_empty",
            details={"account_id": b.account_id},
        )
