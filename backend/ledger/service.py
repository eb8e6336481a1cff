"""Money movement: transfers, holds (freeze), post and void (unfreeze), expiry, linked batches
and reversing transfers. Also re-exports the account, query and verify functions, so that
``backend.ledger.service`` is the whole service API (documented in backend/ledger/__init__.py).

Every function takes the caller's ``session`` and the acting ``actor``; the caller owns the
transaction (commit, or ``run_in_transaction`` for retries). A movement runs inside a SAVEPOINT,
so a failure leaves nothing of it behind while the caller's earlier work in the same transaction
survives.

Concurrency: the accounts a movement touches are locked in ascending id order
(SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE), then the
holds it resolves, and only then are existing transfer ids looked up, so that a retry racing its
original waits for it and then replays it instead of applying twice. Balance columns are updated
once per account per request, in the same transaction as the journal rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from backend.ledger import rules
from backend.ledger.accounts import (  # noqa: F401  (re-exported: the service API)
    Balance,
    balance_of,
    balances,
    close_account,
    find_account,
    get_account,
    get_balance,
    list_accounts,
    lock_accounts,
    open_account,
)
from backend.ledger.models import Account, Hold, Transfer
from backend.ledger.queries import (  # noqa: F401  (re-exported)
    StatementLine,
    get_hold,
    get_transfer,
    list_holds,
    statement,
)
from backend.ledger.verify import Difference, VerifyReport, verify  # noqa: F401
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    DomainError,
    NotFound,
    ValidationFailed,
)
from backend.platform.money import CURRENCY

CLIENT_KINDS = ("single", "pending", "post_pending", "void_pending")


# --------------------------------------------------------------------------- values


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
class _Leg:
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


# --------------------------------------------------------------------------- accounts


# --------------------------------------------------------------------------- money movement


def transfer(
    session: Session,
    actor: Actor,
    *,
    transfer_id: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Decimal | str,
    code: str,
    reference: str | None = None,
    currency: str = CURRENCY,
    now: datetime | None = None,
) -> Transfer:
    """Move ``amount`` at once. Same transfer_id and fields: the original is returned."""
    spec = TransferSpec.single(
        transfer_id,
        debit_account_id,
        credit_account_id,
        amount,
        code,
        reference=reference,
        currency=currency,
    )
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def hold(
    session: Session,
    actor: Actor,
    *,
    transfer_id: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Decimal | str,
    code: str,
    reference: str | None = None,
    currency: str = CURRENCY,
    timeout_s: int | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Freeze ``amount`` (a pending transfer). Resolve it with post_hold, void_hold or expiry."""
    spec = TransferSpec.hold(
        transfer_id,
        debit_account_id,
        credit_account_id,
        amount,
        code,
        reference=reference,
        currency=currency,
        timeout_s=timeout_s,
        expires_at=expires_at,
    )
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def post_hold(
    session: Session,
    actor: Actor,
    *,
    hold_transfer_id: str,
    amount: Decimal | str | None = None,
    transfer_id: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Post a hold in full (amount None) or in part; the rest is released."""
    spec = TransferSpec.post(hold_transfer_id, amount, transfer_id=transfer_id, reference=reference)
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def void_hold(
    session: Session,
    actor: Actor,
    *,
    hold_transfer_id: str,
    transfer_id: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Unfreeze: release the whole hold, nothing posted."""
    spec = TransferSpec.void(hold_transfer_id, transfer_id=transfer_id, reference=reference)
    return execute_batch(session, actor, [spec], now=now).transfers[0]


def reverse_transfer(
    session: Session,
    actor: Actor,
    *,
    original_transfer_id: str,
    transfer_id: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Correct a posted transfer (single or post) by moving its amount back, once.

    The new transfer's id defaults to ``<original>~reverse``; its code is ``reversal``.
    """
    original = session.scalar(select(Transfer).where(Transfer.transfer_id == original_transfer_id))
    if original is None:
        raise NotFound(f"transfer {original_transfer_id!r} not found", code="transfer_not_found")
    if original.kind not in rules.POSTED_KINDS:
        raise BusinessRuleViolation(
            f"transfer {original_transfer_id!r} is a {original.kind}; only posted transfers"
            " are reversed (void a hold instead)",
            code="transfer_not_reversible",
        )
    tid = (
        rules.validate_transfer_id(transfer_id)
        if transfer_id is not None
        else f"{original.transfer_id}~reverse"
    )
    leg = _Leg(
        transfer_id=tid,
        kind="single",
        debit_account_id=original.credit_account_id,
        credit_account_id=original.debit_account_id,
        amount=original.amount,
        currency=original.currency,
        code="reversal",
        reference=rules.validate_reference(reference),
        reversal_of=original,
    )
    return _execute(session, actor, [leg], now=now or utcnow(), batch_id=None).transfers[0]


def execute_batch(
    session: Session,
    actor: Actor,
    specs: Sequence[TransferSpec],
    *,
    batch_id: str | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Apply the legs in order, all or nothing. Each leg is idempotent on its transfer_id."""
    now = now or utcnow()
    if not specs:
        raise ValidationFailed("a batch needs at least one transfer", code="empty_batch")
    if len(specs) > rules.MAX_BATCH:
        raise ValidationFailed(
            f"a batch takes at most {rules.MAX_BATCH} transfers", code="batch_too_large"
        )
    if batch_id is not None:
        batch_id = rules.validate_transfer_id(batch_id, "batch_id")
    elif len(specs) > 1:
        batch_id = uuid.uuid4().hex
    legs = [_validated(spec, i) for i, spec in enumerate(specs)]
    seen = {leg.transfer_id for leg in legs}
    if len(seen) < len(legs):
        dup = next(
            t for i, t in enumerate(legs) if t.transfer_id in {x.transfer_id for x in legs[:i]}
        )
        raise ValidationFailed(
            f"transfer_id {dup.transfer_id!r} appears twice in the batch",
            code="transfer_id_duplicated_in_batch",
            details={"transfer_id": [dup.transfer_id]},
        )
    _resolve_holds(session, legs, seen)
    return _execute(session, actor, legs, now=now, batch_id=batch_id)


def _validated(spec: TransferSpec, index: int) -> _Leg:
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
        leg = _Leg(
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
    return _Leg(tid, kind, None, None, amount, currency, code, reference, hold_ref=hold_ref)


def _resolve_holds(session: Session, legs: list[_Leg], batch_ids: set[str]) -> None:
    """Fill in post and void legs from the holds they name (accounts, amount, currency)."""
    refs = {leg.hold_ref for leg in legs if leg.hold_ref}
    if not refs:
        return
    # Core rows (attribute access like the ORM's): the holds' journal rows are only read here
    rows = session.connection().execute(_SELECT_TRANSFERS, {"ids": sorted(refs)})
    pendings = {t.transfer_id: t for t in rows}
    for leg in legs:
        if leg.hold_ref is None:
            continue
        pending = pendings.get(leg.hold_ref)
        if pending is None:
            if leg.hold_ref in batch_ids:
                raise ValidationFailed(
                    "a hold cannot be resolved in the batch that creates it",
                    code="hold_in_same_batch",
                    details={"hold_transfer_id": [leg.hold_ref]},
                )
            raise NotFound(f"hold {leg.hold_ref!r} not found", code="hold_not_found")
        if pending.kind != "pending":
            raise BusinessRuleViolation(
                f"transfer {leg.hold_ref!r} is not a hold", code="not_a_hold"
            )
        if leg.currency is not None and leg.currency != pending.currency:
            raise BusinessRuleViolation(
                f"the hold is in {pending.currency}, not {leg.currency}",
                code="currency_mismatch",
                details={"currency": leg.currency},
            )
        leg.pending = pending
        leg.debit_account_id = pending.debit_account_id
        leg.credit_account_id = pending.credit_account_id
        leg.amount = pending.amount if leg.amount is None else leg.amount
        leg.currency = pending.currency
        leg.code = leg.code or pending.code


def _same_fields(row: Transfer, leg: _Leg) -> list[str]:
    """Names of the fields in which a stored transfer differs from a retried request."""
    wanted = {
        "kind": leg.kind,
        "debit_account_id": leg.debit_account_id,
        "credit_account_id": leg.credit_account_id,
        "amount": leg.amount,
        "currency": leg.currency,
        "code": leg.code,
        "reference": leg.reference,
        "pending_id": leg.pending.id if leg.pending else None,
        "reversal_of_id": leg.reversal_of.id if leg.reversal_of else None,
        "timeout_s": leg.timeout_s,
    }
    if leg.kind == "pending" and leg.timeout_s is None:
        wanted["expires_at"] = leg.expires_at
    return sorted(k for k, v in wanted.items() if getattr(row, k) != v)


AUDIT_ACTIONS = {
    "single": "ledger.transfer",
    "pending": "ledger.hold",
    "post_pending": "ledger.hold_posted",
    "void_pending": "ledger.hold_voided",
    "expire_pending": "ledger.hold_expired",
}


def _execute(
    session: Session, actor: Actor, legs: list[_Leg], *, now: datetime, batch_id: str | None
) -> BatchResult:
    # Optimistic first: assume every transfer id is new and do not look them up. The journal's
    # unique transfer_id proves it (the INSERT fails on a stored id), and any refusal might be
    # explained by a stored transfer (a replay is not refused), so on either the savepoint is
    # rolled back and the request runs again the careful way, which looks the ids up first.
    try:
        with session.begin_nested():
            return _execute_locked(
                session, actor, legs, now=now, batch_id=batch_id, optimistic=True
            )
    except (DomainError, IntegrityError):
        pass
    try:
        with session.begin_nested():
            return _execute_locked(session, actor, legs, now=now, batch_id=batch_id)
    except IntegrityError as exc:
        # Only reachable through a race the locks do not cover (same id, other accounts).
        text = str(exc.orig)

        def hit(column: str) -> bool:  # PostgreSQL names the constraint, SQLite the column
            return f"uq_ledger_transfers_{column}" in text or f"ledger_transfers.{column}" in text

        if hit("transfer_id"):
            raise Conflict(
                "transfer_id was used concurrently by another transfer",
                code="transfer_id_reused",
            ) from None
        if hit("pending_id"):
            raise BusinessRuleViolation(
                "hold already resolved", code="hold_already_resolved"
            ) from None
        if hit("reversal_of_id"):
            raise BusinessRuleViolation(
                "transfer already reversed", code="transfer_already_reversed"
            ) from None
        raise


def _execute_locked(
    session: Session,
    actor: Actor,
    legs: list[_Leg],
    *,
    now: datetime,
    batch_id: str | None,
    optimistic: bool = False,
) -> BatchResult:
    work, versions = _lock_balances(
        session, [i for leg in legs for i in (leg.debit_account_id, leg.credit_account_id)]
    )
    hold_ids = sorted({leg.pending.id for leg in legs if leg.pending is not None})
    holds = {}
    if hold_ids:
        holds = {h.id: h for h in session.connection().execute(_LOCK_HOLDS, {"ids": hold_ids})}
    existing = {} if optimistic else _existing(session, [leg.transfer_id for leg in legs])

    before = {i: b.totals() for i, b in work.items()}
    hold_states = {i: h.state for i, h in holds.items()}
    new: list[_Leg] = []
    for leg in legs:
        row = existing.get(leg.transfer_id)
        if row is not None:
            differing = _same_fields(row, leg)
            if differing:
                raise Conflict(
                    f"transfer_id {leg.transfer_id!r} was used for another transfer",
                    code="transfer_id_reused",
                    details={"transfer_id": leg.transfer_id, "fields": differing},
                )
            continue
        _apply(leg, work, holds, hold_states, now)
        new.append(leg)

    if new:
        _write(session, actor, new, holds, now=now, batch_id=batch_id)
        touched = [i for i, b in work.items() if b.totals() != before[i]]
        _store_balances(session, touched, work, versions)
        _audit(session, actor, new, batch_id, {i: before[i] for i in touched}, work)
        session.flush()
    replayed = [leg.transfer_id in existing for leg in legs]
    return BatchResult(session, batch_id, [leg.transfer_id for leg in legs], replayed)


def _existing(session: Session, transfer_ids: list[str]) -> dict[str, Transfer]:
    """Stored transfers among ``transfer_ids``. The ids are validated ([A-Za-z0-9._:/@#~-]), so
    they are rendered inline: PostgreSQL then plans each IN list for its values (a hashed lookup)
    instead of reusing a generic plan that compares every row with every parameter."""
    ids = bindparam("ids", transfer_ids, expanding=True, literal_execute=True)
    column = Transfer.__table__.c.transfer_id
    found = list(session.connection().execute(select(column).where(column.in_(ids))).scalars())
    if not found:
        return {}
    return {
        t.transfer_id: t
        for t in session.scalars(select(Transfer).where(Transfer.transfer_id.in_(found)))
    }


BALANCE_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
_ACCOUNTS = Account.__table__
# Built once: the hot path then skips constructing (and cache-keying) them on every request.
_LOCK_ACCOUNTS = (
    select(
        _ACCOUNTS.c.id,
        _ACCOUNTS.c.currency,
        _ACCOUNTS.c.status,
        *(_ACCOUNTS.c[c] for c in BALANCE_COLUMNS),
        _ACCOUNTS.c.debits_must_not_exceed_credits,
        _ACCOUNTS.c.credits_must_not_exceed_debits,
        _ACCOUNTS.c.version,
    )
    .where(_ACCOUNTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_ACCOUNTS.c.id)
    .with_for_update()
)
_STORE_BALANCES = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("_id"))
    .values({c: bindparam(c) for c in (*BALANCE_COLUMNS, "version")})
)
_INSERT_TRANSFERS = insert(Transfer.__table__)
_SELECT_TRANSFERS = select(Transfer.__table__).where(
    Transfer.__table__.c.transfer_id.in_(bindparam("ids", expanding=True))
)
_HOLDS = Hold.__table__
_INSERT_HOLDS = insert(_HOLDS)
_LOCK_HOLDS = (
    select(_HOLDS.c.id, _HOLDS.c.amount, _HOLDS.c.state, _HOLDS.c.expires_at)
    .where(_HOLDS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_HOLDS.c.id)
    .with_for_update()
)
_RESOLVE_HOLDS = (
    update(_HOLDS)
    .where(_HOLDS.c.id == bindparam("_id"))
    .values({c: bindparam(c) for c in ("state", "posted_amount", "resolved_at", "resolution_id")})
)


def _lock_balances(session: Session, ids) -> tuple[dict[int, rules.Balances], dict[int, int]]:
    """Lock the accounts (ascending id) and read their totals without building ORM objects."""
    wanted = sorted(set(ids))
    stmt = _LOCK_ACCOUNTS
    work, versions = {}, {}
    for row in session.connection().execute(stmt, {"ids": wanted}):
        work[row[0]] = rules.Balances(*row[:9])
        versions[row[0]] = row[9]
    missing = [i for i in wanted if i not in work]
    if missing:
        raise NotFound(
            f"account {missing[0]} not found",
            code="account_not_found",
            details={"account_ids": missing},
        )
    return work, versions


def _store_balances(session: Session, touched: list[int], work, versions) -> None:
    """One UPDATE per touched account (executemany). Account objects this session already
    holds are told the new values, so that they do not go stale."""
    if not touched:
        return
    params = []
    for i in touched:
        values = dict(zip(BALANCE_COLUMNS, work[i].totals(), strict=True))
        values["version"] = versions[i] + 1
        params.append({"_id": i, **values})
    session.connection().execute(_STORE_BALANCES, params)
    identity_map = session.identity_map
    for values in params:
        account = identity_map.get(Session.identity_key(Account, values["_id"]))
        if account is not None:
            for key in (*BALANCE_COLUMNS, "version"):
                set_committed_value(account, key, values[key])


def _apply(
    leg: _Leg,
    work: dict[int, rules.Balances],
    holds: dict,
    hold_states: dict[int, str],
    now: datetime,
) -> None:
    """Check one new leg against the working balances (state after the legs before it)."""
    debit, credit = work[leg.debit_account_id], work[leg.credit_account_id]
    if leg.kind == "single":
        rules.apply_single(debit, credit, leg.amount, leg.currency)
        return
    if leg.kind == "pending":
        if leg.timeout_s is not None:
            leg.expires_at = now + timedelta(seconds=leg.timeout_s)
        elif leg.expires_at is not None and leg.expires_at <= now:
            raise ValidationFailed(
                "expires_at must be in the future",
                code="invalid_timeout",
                details={"expires_at": ["in the future"]},
            )
        rules.apply_pending(debit, credit, leg.amount, leg.currency)
        return
    hold_row = holds[leg.pending.id]
    state = hold_states[hold_row.id]
    if leg.kind == "expire_pending":
        if state != "pending":
            raise BusinessRuleViolation("hold already resolved", code="hold_already_resolved")
        if hold_row.expires_at is None or hold_row.expires_at > now:
            raise BusinessRuleViolation("hold is not due to expire", code="hold_not_due")
    else:
        rules.check_resolvable(state, hold_row.expires_at, now, leg.pending.transfer_id)
    if leg.kind == "post_pending":
        rules.apply_post(debit, credit, hold_row.amount, leg.amount)
    else:
        rules.apply_release(debit, credit, hold_row.amount)
    hold_states[hold_row.id] = rules.RESOLUTION_STATE[leg.kind]


def _write(
    session: Session,
    actor: Actor,
    new: list[_Leg],
    holds: dict,
    *,
    now: datetime,
    batch_id: str | None,
) -> None:
    """Journal rows in one executemany INSERT, then the holds they create or resolve."""
    rows = [
        {
            "transfer_id": leg.transfer_id,
            "kind": leg.kind,
            "debit_account_id": leg.debit_account_id,
            "credit_account_id": leg.credit_account_id,
            "amount": leg.amount,
            "currency": leg.currency,
            "code": leg.code,
            "reference": leg.reference,
            "pending_id": leg.pending.id if leg.pending is not None else None,
            "reversal_of_id": leg.reversal_of.id if leg.reversal_of is not None else None,
            "timeout_s": leg.timeout_s,
            "expires_at": leg.expires_at,
            "batch_id": batch_id,
            "created_at": now,
            "created_by": actor.username,
            "created_by_user_id": actor.user_id,
        }
        for leg in new
    ]
    # Plain executemany: no RETURNING, no ORM objects (BatchResult loads them if asked).
    connection = session.connection()  # Core statements: no ORM layer in the hot path
    connection.execute(_INSERT_TRANSFERS, rows)
    need_ids = [leg.transfer_id for leg in new if leg.kind == "pending" or leg.pending is not None]
    if not need_ids:
        return
    stmt = select(Transfer.transfer_id, Transfer.id).where(Transfer.transfer_id.in_(need_ids))
    ids = dict(connection.execute(stmt).all())
    hold_rows = [
        {
            "id": ids[leg.transfer_id],
            "debit_account_id": leg.debit_account_id,
            "credit_account_id": leg.credit_account_id,
            "amount": leg.amount,
            "state": "pending",
            "posted_amount": None,
            "expires_at": leg.expires_at,
            "created_at": now,
            "resolved_at": None,
            "resolution_id": None,
        }
        for leg in new
        if leg.kind == "pending"
    ]
    if hold_rows:
        connection.execute(_INSERT_HOLDS, hold_rows)
    resolved = [
        {
            "_id": leg.pending.id,
            "state": rules.RESOLUTION_STATE[leg.kind],
            "posted_amount": leg.amount if leg.kind == "post_pending" else None,
            "resolved_at": now,
            "resolution_id": ids[leg.transfer_id],
        }
        for leg in new
        if leg.pending is not None
    ]
    if not resolved:
        return
    # Core UPDATE (the database's trigger still refuses a second resolution); Hold objects this
    # session already holds are told the new values, so that they do not go stale.
    connection.execute(_RESOLVE_HOLDS, resolved)
    identity_map = session.identity_map
    for values in resolved:
        hold_object = identity_map.get(Session.identity_key(Hold, values["_id"]))
        if hold_object is not None:
            for key in ("state", "posted_amount", "resolved_at", "resolution_id"):
                set_committed_value(hold_object, key, values[key])


def _summary(leg: _Leg) -> dict:
    summary = {
        "transfer_id": leg.transfer_id,
        "kind": leg.kind,
        "debit_account_id": leg.debit_account_id,
        "credit_account_id": leg.credit_account_id,
        "amount": str(leg.amount),
        "code": leg.code,
    }
    if leg.pending is not None:
        summary["hold_transfer_id"] = leg.pending.transfer_id
    if leg.reversal_of is not None:
        summary["reversal_of"] = leg.reversal_of.transfer_id
    if leg.expires_at is not None:
        summary["expires_at"] = leg.expires_at.isoformat()
    return summary


def _totals(t: tuple[Decimal, Decimal, Decimal, Decimal]) -> dict[str, str]:
    return {
        "debits_posted": str(t[0]),
        "credits_posted": str(t[1]),
        "debits_pending": str(t[2]),
        "credits_pending": str(t[3]),
    }


def _audit(session, actor, new, batch_id, before, work) -> None:
    """The request's one audit record, written with one Core INSERT (``audit.record_now``)."""
    before_doc = {"accounts": {str(i): _totals(t) for i, t in before.items()}}
    after_accounts = {str(i): _totals(work[i].totals()) for i in before}
    if len(new) == 1 and batch_id is None:
        leg = new[0]
        action = "ledger.transfer_reversed" if leg.reversal_of else AUDIT_ACTIONS[leg.kind]
        after = {"transfer": _summary(leg), "accounts": after_accounts}
        object_type, object_id = "ledger_transfer", leg.transfer_id
    else:
        # the legs' details are in the journal under batch_id; the record names them and the
        # balances they changed
        kinds: dict[str, int] = {}
        for leg in new:
            kinds[leg.kind] = kinds.get(leg.kind, 0) + 1
        after = {
            "transfer_ids": [leg.transfer_id for leg in new],
            "kinds": kinds,
            "amount_total": str(sum(leg.amount for leg in new)),
            "accounts": after_accounts,
        }
        action, object_type, object_id = "ledger.batch", "ledger_batch", str(batch_id)
    audit.record_now(session, actor, action, object_type, object_id, before_doc, after)


# --------------------------------------------------------------------------- expiry


def expire_holds(
    session: Session, actor: Actor, *, now: datetime | None = None, limit: int = 500
) -> int:
    """Expire holds past their deadline (oldest first, at most ``limit``); returns how many.

    Each expiry is its own savepoint, so a hold posted or voided concurrently is skipped."""
    now = now or utcnow()
    due = session.scalars(
        select(Hold.id)
        .where(Hold.state == "pending", Hold.expires_at <= now)
        .order_by(Hold.id)
        .limit(limit)
    ).all()
    expired = 0
    for hold_id in due:
        pending = session.get(Transfer, hold_id)
        leg = _Leg(
            transfer_id=f"{pending.transfer_id}~expire",
            kind="expire_pending",
            debit_account_id=pending.debit_account_id,
            credit_account_id=pending.credit_account_id,
            amount=pending.amount,
            currency=pending.currency,
            code=pending.code,
            reference=None,
            pending=pending,
        )
        try:
            result = _execute(session, actor, [leg], now=now, batch_id=None)
        except BusinessRuleViolation as exc:
            if exc.code == "hold_already_resolved":
                continue
            raise
        expired += result.created
    return expired
