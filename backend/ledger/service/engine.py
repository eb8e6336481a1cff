"""Applying validated legs: the one path every movement of money takes.

``execute(session, actor, legs, now=, batch_id=)`` runs inside a SAVEPOINT, so a failure leaves
nothing of the request behind while the caller's earlier work in the same transaction survives.

Concurrency: the accounts a request touches are locked in ascending id order, then the holds it
resolves, and only then are existing transfer ids looked up, so that a retry racing its original
waits for it and then replays it instead of applying twice. Each new leg is checked against the
working balances (the state after the legs before it); balance columns are updated once per
account per request, in the same transaction as the journal rows and the audit record.

Fast path: a request is first tried assuming every transfer id is new (no lookup); the journal's
unique ``transfer_id`` proves it. On any refusal the savepoint is rolled back and the request
runs again the careful way, which looks the ids up first (a replay is never refused).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.ledger import rules
from backend.ledger.models import Transfer
from backend.ledger.service import journal
from backend.ledger.service.legs import BatchResult, Leg
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    DomainError,
    ValidationFailed,
)


def execute(
    session: Session, actor: Actor, legs: list[Leg], *, now: datetime, batch_id: str | None
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
    legs: list[Leg],
    *,
    now: datetime,
    batch_id: str | None,
    optimistic: bool = False,
) -> BatchResult:
    work, versions = journal.lock_balances(
        session, [i for leg in legs for i in (leg.debit_account_id, leg.credit_account_id)]
    )
    holds = journal.lock_holds(
        session, sorted({leg.pending.id for leg in legs if leg.pending is not None})
    )
    existing = {} if optimistic else _existing(session, [leg.transfer_id for leg in legs])

    before = {i: b.totals() for i, b in work.items()}
    hold_states = {i: h.state for i, h in holds.items()}
    new: list[Leg] = []
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
        journal.write(session, actor, new, now=now, batch_id=batch_id)
        touched = [i for i, b in work.items() if b.totals() != before[i]]
        journal.store_balances(session, touched, work, versions)
        journal.record_audit(session, actor, new, batch_id, {i: before[i] for i in touched}, work)
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


def _same_fields(row: Transfer, leg: Leg) -> list[str]:
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


def _apply(
    leg: Leg,
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
