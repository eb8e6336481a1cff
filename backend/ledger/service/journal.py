"""The rows a request locks and writes, as prebuilt Core statements (the hot path).

- ``lock_balances``: the accounts a request touches, locked in ascending id order (SELECT ...
  FOR UPDATE; SQLite serialises writers anyway), read as ``rules.Balances`` values without
  building ORM objects; ``lock_holds`` does the same for the holds it resolves.
- ``write``: the journal rows in one executemany INSERT, then the holds they create or resolve.
- ``store_balances``: one UPDATE per touched account, its version bumped.
- ``record_audit``: the request's one audit record (one per transfer, or one per batch).

ORM objects of the same rows that the session already holds are told the new values, so that
they do not go stale. The statements are built once at import: the hot path then skips
constructing (and cache-keying) them on every request.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from backend.ledger import rules
from backend.ledger.models import Account, Hold, Transfer
from backend.ledger.service.legs import Leg
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import NotFound

BALANCE_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
HOLD_RESOLUTION_COLUMNS = ("state", "posted_amount", "resolved_at", "resolution_id")
AUDIT_ACTIONS = {
    "single": "ledger.transfer",
    "pending": "ledger.hold",
    "post_pending": "ledger.hold_posted",
    "void_pending": "ledger.hold_voided",
    "expire_pending": "ledger.hold_expired",
}

_ACCOUNTS = Account.__table__
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
_INSERT_TRANSFERS_RETURNING = _INSERT_TRANSFERS.returning(  # rows keyed by transfer_id
    Transfer.__table__.c.transfer_id, Transfer.__table__.c.id
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
    .values({c: bindparam(c) for c in HOLD_RESOLUTION_COLUMNS})
)


def lock_balances(session: Session, ids) -> tuple[dict[int, rules.Balances], dict[int, int]]:
    """Lock the accounts (ascending id) and read their totals and versions."""
    wanted = sorted(set(ids))
    work, versions = {}, {}
    for row in session.connection().execute(_LOCK_ACCOUNTS, {"ids": wanted}):
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


def lock_holds(session: Session, hold_ids: list[int]) -> dict:
    """Lock the holds (ascending id): rows with ``id``, ``amount``, ``state``, ``expires_at``."""
    if not hold_ids:
        return {}
    return {h.id: h for h in session.connection().execute(_LOCK_HOLDS, {"ids": hold_ids})}


def store_balances(session: Session, touched: list[int], work, versions) -> None:
    """One UPDATE per touched account (executemany)."""
    if not touched:
        return
    params = []
    for i in touched:
        values = dict(zip(BALANCE_COLUMNS, work[i].totals(), strict=True))
        values["version"] = versions[i] + 1
        params.append({"_id": i, **values})
    session.connection().execute(_STORE_BALANCES, params)
    _refresh_held(session, Account, params, (*BALANCE_COLUMNS, "version"))


def _refresh_held(session: Session, model, params: list[dict], keys) -> None:
    identity_map = session.identity_map
    for values in params:
        held = identity_map.get(Session.identity_key(model, values["_id"]))
        if held is not None:
            for key in keys:
                set_committed_value(held, key, values[key])


def write(
    session: Session,
    actor: Actor,
    new: list[Leg],
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
    # No ORM objects (BatchResult loads them if asked). Ids are returned only when holds
    # need them (one INSERT ... RETURNING instead of a SELECT after); else plain executemany.
    connection = session.connection()  # Core statements: no ORM layer in the hot path
    if not any(leg.kind == "pending" or leg.pending is not None for leg in new):
        connection.execute(_INSERT_TRANSFERS, rows)
        return
    ids = dict(connection.execute(_INSERT_TRANSFERS_RETURNING, rows).all())
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
    # Core UPDATE (the database's trigger still refuses a second resolution).
    connection.execute(_RESOLVE_HOLDS, resolved)
    _refresh_held(session, Hold, resolved, HOLD_RESOLUTION_COLUMNS)


def _summary(leg: Leg) -> dict:
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


def record_audit(session, actor, new, batch_id, before, work) -> None:
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
