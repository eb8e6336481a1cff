"""Pure rules of clearing: what an instruction may say, what it does to an order, and the
replay of the instruction log into the balances it implies (no database, no ledger).

An order holds ``open + bargained + fee_held`` on the buyer's trader account:

- ``order`` (amount a, fee f): a new order; holds a + f.
- ``bargain`` (amount b <= open, fee f): b of the open amount is matched (partial bargains
  allowed); the hold grows by f.
- ``cancel``: the open (unmatched) part is released; with nothing bargained the whole hold
  (fees included) is released and the order is cancelled.
- ``delivery`` (amount <= the undelivered bargained amount, fee, clearing_fee, counterparty):
  the buyer pays the seller the amount, the bank the fee and the clearing house its fee. A
  partial delivery (less than the undelivered bargained amount) releases that part of the hold
  and its share of the held fees (pro rata to the cent, ``fee_share``: the share of what is
  left, so the last part takes the rounding remainder and the parts add up exactly); the rest
  stays held. The delivery that reaches the bargained amount releases the whole hold (an open
  part too) and the order is ``delivered``. A ``cancel`` of a partly delivered order with
  nothing open releases the undelivered remainder and its fees (the order ends ``delivered``
  with ``delivered`` below the bargained total).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from backend.platform.errors import BusinessRuleViolation, ValidationFailed
from backend.platform.money import parse_money

ZERO = Decimal("0.00")
KINDS = ("order", "bargain", "cancel", "delivery")
REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
MAX_SEQ = 2**31 - 1
FIELDS = {
    "id",
    "account",
    "seq",
    "kind",
    "order",
    "amount",
    "fee",
    "clearing_fee",
    "counterparty",
    "trade_date",
}


@dataclass(frozen=True)
class Parsed:
    """An instruction whose form is right (its business sense is checked at its turn)."""

    instruction_id: str
    account_no: str
    seq: int
    kind: str
    order_ref: str
    amount: Decimal
    fee: Decimal
    clearing_fee: Decimal
    counterparty_no: str | None
    trade_date: date | None
    body_hash: str


def body_hash(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _bad(field: str, why: str, code: str = "invalid_instruction") -> ValidationFailed:
    return ValidationFailed(f"{field}: {why}", code=code, details={field: [why]})


def _ref(body: Mapping, field: str, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not REF_RE.match(value):
        raise _bad(field, "1-40 of letters, digits and ._- (starting with a letter or digit)")
    return value


def _money(body: Mapping, field: str, *, positive: bool, required: bool) -> Decimal:
    value = body.get(field)
    if value is None:
        if required:
            raise _bad(field, "required", "invalid_amount")
        return ZERO
    amount = parse_money(value, field=field)
    if amount < 0 or (positive and amount == 0):
        raise _bad(
            field, "must be positive" if positive else "must not be negative", "invalid_amount"
        )
    return amount


def parse_instruction(body: object) -> Parsed:
    """Check an instruction's form; 400 (``invalid_instruction``, ``invalid_amount``) else."""
    if not isinstance(body, Mapping):
        raise _bad("instruction", "must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise _bad(unknown[0], "unknown field")
    instruction_id = _ref(body, "id")
    kind = body.get("kind")
    if kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}")
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise _bad("seq", f"an integer from 1 to {MAX_SEQ}")
    needs_amount = kind != "cancel"
    if kind == "cancel" and body.get("amount") is not None:
        raise _bad("amount", "a cancel takes no amount")
    counterparty = _ref(body, "counterparty", required=kind == "delivery")
    if kind != "delivery" and counterparty is not None:
        raise _bad("counterparty", "only a delivery names a counterparty")
    if kind != "delivery" and body.get("clearing_fee") is not None:
        raise _bad("clearing_fee", "only a delivery pays the clearing house's fee")
    trade_date = body.get("trade_date")
    if trade_date is not None:
        try:
            trade_date = date.fromisoformat(trade_date) if isinstance(trade_date, str) else None
        except ValueError:
            trade_date = None
        if trade_date is None:
            raise _bad("trade_date", "a date YYYY-MM-DD")
    return Parsed(
        instruction_id=instruction_id,
        account_no=_ref(body, "account"),
        seq=seq,
        kind=kind,
        order_ref=_ref(body, "order"),
        amount=_money(body, "amount", positive=True, required=needs_amount),
        fee=_money(body, "fee", positive=False, required=False),
        clearing_fee=_money(body, "clearing_fee", positive=False, required=False),
        counterparty_no=counterparty,
        trade_date=trade_date,
        body_hash=body_hash(body),
    )


# --------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class OrderState:
    status: str  # open | bargained | cancelled | delivered
    open_amount: Decimal = ZERO
    bargained: Decimal = ZERO
    fee_held: Decimal = ZERO
    delivered: Decimal = ZERO  # the delivered total (bargained above is what is left of it)

    @property
    def hold_total(self) -> Decimal:
        return self.open_amount + self.bargained + self.fee_held


@dataclass(frozen=True)
class Step:
    """What an instruction does: the order's next state and the money it moves."""

    state: OrderState
    pays: Decimal = ZERO  # the buyer's posted outflow (delivery: amount + fees)
    receives: Decimal = ZERO  # the counterparty's inflow (delivery: amount)


def fee_share(fee_held: Decimal, amount: Decimal, remaining: Decimal) -> Decimal:
    """The part of the held fees a delivery of ``amount`` out of ``remaining`` releases: pro
    rata to the cent (half up); all of it for the last part, so the parts add up exactly."""
    if amount >= remaining:
        return fee_held
    return (fee_held * amount / remaining).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _refuse(code: str, message: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(message, code=code)


def step(state: OrderState | None, kind: str, amount: Decimal, fee: Decimal, clearing_fee=ZERO):
    """The order's next state under one instruction, or a 422 with the reason."""
    if kind == "order":
        if state is not None:
            raise _refuse("order_exists", "this order was already placed")
        return Step(OrderState("open", amount, ZERO, fee))
    if state is None:
        raise _refuse("order_not_found", "no such order on this account")
    if state.status == "delivered":
        raise _refuse("order_already_delivered", "the order was delivered")
    if state.status == "cancelled":
        raise _refuse("order_cancelled", "the order was cancelled")
    if kind == "bargain":
        if amount > state.open_amount:
            raise _refuse("bargain_exceeds_order", "the bargain is larger than the open order")
        left = state.open_amount - amount
        return Step(
            OrderState(
                "open" if left else "bargained",
                left,
                state.bargained + amount,
                state.fee_held + fee,
            )
        )
    if kind == "cancel":
        if state.open_amount == 0:
            if state.delivered > 0 and state.bargained > 0:  # the undelivered remainder
                return Step(OrderState("delivered", delivered=state.delivered))
            raise _refuse("nothing_to_cancel", "the order has no open amount left")
        if state.bargained == 0:
            return Step(OrderState("cancelled"))
        return Step(replace(state, status="bargained", open_amount=ZERO))
    # delivery
    if state.bargained == 0:
        raise _refuse("nothing_to_deliver", "nothing of the order was bargained")
    if amount > state.bargained:
        raise _refuse(
            "delivery_exceeds_bargain",
            f"the delivery is larger than the undelivered bargained amount {state.bargained}",
        )
    pays = amount + fee + clearing_fee
    delivered = state.delivered + amount
    if amount == state.bargained:
        return Step(OrderState("delivered", delivered=delivered), pays=pays, receives=amount)
    left = replace(
        state,
        bargained=state.bargained - amount,
        fee_held=state.fee_held - fee_share(state.fee_held, amount, state.bargained),
        delivered=delivered,
    )
    return Step(left, pays=pays, receives=amount)


# --------------------------------------------------------------------------- replay


@dataclass(frozen=True)
class LogEntry:
    """One applied instruction as stored (account ids, not numbers)."""

    account_id: int
    seq: int
    kind: str
    order_ref: str
    amount: Decimal
    fee: Decimal
    clearing_fee: Decimal
    counterparty_id: int | None


@dataclass(frozen=True)
class Expected:
    balance: Decimal
    held: Decimal


def replay(fundings: Iterable[tuple[int, Decimal]], log: Iterable[LogEntry]) -> dict[int, Expected]:
    """The balance and held amount of every trader account that the fundings and the applied
    instruction log imply. Each account's instructions are taken in ``seq`` order; a delivery's
    credit to the seller commutes with everything else, so accounts need no global order."""
    balance: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account_id, amount in fundings:
        balance[account_id] += amount
    orders: dict[tuple[int, str], OrderState] = {}
    for e in sorted(log, key=lambda e: (e.account_id, e.seq)):
        balance[e.account_id] += ZERO
        key = (e.account_id, e.order_ref)
        done = step(orders.get(key), e.kind, e.amount, e.fee, e.clearing_fee)
        orders[key] = done.state
        balance[e.account_id] -= done.pays
        if e.counterparty_id is not None and done.receives:
            balance[e.counterparty_id] += done.receives
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for (account_id, _), state in orders.items():
        held[account_id] += state.hold_total
    return {a: Expected(balance[a], held[a]) for a in set(balance) | set(held)}
