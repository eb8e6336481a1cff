"""A request of one or more legs: ``execute_batch``, all or nothing, legs applied in order.

The legs are checked statically (``legs.validated``), their ids must differ, post and void legs
are filled in from the holds they name (accounts, amount, currency; a hold cannot be resolved
in the batch that creates it), and the engine applies them under one set of locks. Each leg is
idempotent on its transfer_id; a batch of more than one leg gets a ``batch_id`` (the caller's,
or a fresh one) under which the journal keeps its legs and the audit record names them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from backend.ledger import rules
from backend.ledger.models import Transfer
from backend.ledger.service import engine
from backend.ledger.service.legs import BatchResult, Leg, TransferSpec, validated
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, NotFound, ValidationFailed

_SELECT_TRANSFERS = select(Transfer.__table__).where(
    Transfer.__table__.c.transfer_id.in_(bindparam("ids", expanding=True))
)


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
    legs = [validated(spec, i) for i, spec in enumerate(specs)]
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
    return engine.execute(session, actor, legs, now=now, batch_id=batch_id)


def _resolve_holds(session: Session, legs: list[Leg], batch_ids: set[str]) -> None:
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
