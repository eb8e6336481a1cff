"""What a request asks for, before the database is touched.

``TransferSpec`` is the caller's description of one leg (build it with ``single``, ``hold``,
``post`` or ``void``); ``validated`` checks it statically (ids, amount, currency, accounts,
timeout) and turns it into a ``Leg``, the mutable working copy the engine fills in (the hold a
post or void resolves, the transfer a reversal corrects) and writes. ``BatchResult`` is what a
request answers: per leg its transfer id and whether it replayed an earlier request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.ledger import rules
from backend.ledger.models import Transfer
from backend.platform.errors import ValidationFailed
from backend.platform.money import CURRENCY

CLIENT_KINDS = ("single", "pending", "post_pending", "void_pending")


@dataclass(frozen=True)
class TransferSpec:
    """One leg of a request. Build with ``single``, ``hold``, ``post`` or ``void``.

    For post/void ``hold_transfer_id`` names the hold (its transfer_id); ``transfer_id`` may be
    left out and then defaults to ``<hold>~post`` / ``<hold>~void``: a hold resolves once, so
    that id is a natural idempotency key.
    """

    transfer_id: str | None
    kind: str = "single"
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: Decimal | str | int | None = None
    code: str | None = None
    reference: str | None = None
    currency: str | None = None
    hold_transfer_id: str | None = None
    timeout_s: int | None = None
    expires_at: datetime | None = None

    @classmethod
    def single(cls, transfer_id, debit_account_id, credit_account_id, amount, code, **kw):
        return cls(transfer_id, "single", debit_account_id, credit_account_id, amount, code, **kw)

    @classmethod
    def hold(cls, transfer_id, debit_account_id, credit_account_id, amount, code, **kw):
        return cls(transfer_id, "pending", debit_account_id, credit_account_id, amount, code, **kw)

    @classmethod
    def post(cls, hold_transfer_id, amount=None, *, transfer_id=None, **kw):
        return cls(
            transfer_id, "post_pending", amount=amount, hold_transfer_id=hold_transfer_id, **kw
        )

    @classmethod
    def void(cls, hold_transfer_id, *, transfer_id=None, **kw):
        return cls(transfer_id, "void_pending", hold_transfer_id=hold_transfer_id, **kw)


class BatchResult:
    """What a batch did: per leg, its transfer_id and whether it was a replay of an earlier
    request. ``transfers`` loads the journal rows (in leg order) on first use, so callers that
    only need the ids (bulk paths) pay nothing for them."""

    def __init__(
        self, session: Session, batch_id: str | None, transfer_ids: list[str], replayed: list[bool]
    ):
        self.batch_id = batch_id
        self.transfer_ids = transfer_ids
        self.replayed = replayed
        self._session = session
        self._transfers: list[Transfer] | None = None

    @property
    def created(self) -> int:
        return self.replayed.count(False)

    @property
    def transfers(self) -> list[Transfer]:
        if self._transfers is None:
            stmt = select(Transfer).where(Transfer.transfer_id.in_(self.transfer_ids))
            rows = {t.transfer_id: t for t in self._session.scalars(stmt)}
            self._transfers = [rows[tid] for tid in self.transfer_ids]
        return self._transfers

    def __repr__(self) -> str:
        return f"BatchResult(batch_id={self.batch_id!r}, transfer_ids={self.transfer_ids!r})"


@dataclass(slots=True)
class Leg:
    """One leg being applied (internal to the ledger's service)."""

    transfer_id: str
    kind: str
    debit_account_id: int | None
    credit_account_id: int | None
    amount: Decimal | None
    currency: str | None
    code: str | None
    reference: str | None
    pending: Transfer | None = None
    reversal_of: Transfer | None = None
    timeout_s: int | None = None
    expires_at: datetime | None = None
    hold_ref: str | None = None


def validated(spec: TransferSpec, index: int) -> Leg:
    """Static checks (no database)."""
    kind = spec.kind
    if kind not in CLIENT_KINDS:
        raise ValidationFailed(
            f"unknown transfer kind {kind!r}",
            code="invalid_transfer_kind",
            details={"kind": [f"one of {', '.join(CLIENT_KINDS)}"], "index": index},
        )
    currency = spec.currency
    if currency is not None and currency != CURRENCY:
        rules.validate_currency(currency)
    reference = spec.reference
    if reference is not None:
        rules.validate_reference(reference)
    if kind == "single" or kind == "pending":
        debit, credit = spec.debit_account_id, spec.credit_account_id
        for name, value in (("debit_account_id", debit), ("credit_account_id", credit)):
            if type(value) is not int:
                raise ValidationFailed(
                    f"{name} must be an account id",
                    code="invalid_account_id",
                    details={name: ["an integer account id"], "index": index},
                )
        rules.check_distinct(debit, credit)
        leg = Leg(
            rules.validate_transfer_id(spec.transfer_id),
            kind,
            debit,
            credit,
            rules.validate_amount(spec.amount),
            currency or CURRENCY,
            rules.validate_code(spec.code),
            reference,
        )
        if kind == "pending":
            leg.timeout_s = rules.validate_timeout(spec.timeout_s, spec.expires_at)
            leg.expires_at = spec.expires_at
        elif spec.timeout_s is not None or spec.expires_at is not None:
            raise ValidationFailed(
                "only holds take a timeout", code="invalid_timeout", details={"index": index}
            )
        return leg
    hold_ref = rules.validate_transfer_id(spec.hold_transfer_id, "hold_transfer_id")
    suffix = "post" if kind == "post_pending" else "void"
    tid = (
        rules.validate_transfer_id(spec.transfer_id)
        if spec.transfer_id is not None
        else f"{hold_ref}~{suffix}"
    )
    if spec.debit_account_id is not None or spec.credit_account_id is not None:
        raise ValidationFailed(
            "post and void take the hold's accounts",
            code="invalid_transfer",
            details={"index": index},
        )
    if kind == "void_pending" and spec.amount is not None:
        raise ValidationFailed(
            "a void releases the whole hold; it takes no amount",
            code="invalid_amount",
            details={"amount": ["not allowed on void"], "index": index},
        )
    amount = rules.validate_amount(spec.amount) if spec.amount is not None else None
    code = rules.validate_code(spec.code) if spec.code is not None else None
    return Leg(tid, kind, None, None, amount, currency, code, reference, hold_ref=hold_ref)
