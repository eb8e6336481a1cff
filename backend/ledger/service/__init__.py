"""The ledger's write side: accounts opened and closed, money moved, holds resolved.

Every function takes the caller's ``session`` and the acting ``actor``; the caller owns the
transaction (commit, or ``run_in_transaction`` for retries). A movement runs inside a SAVEPOINT,
so a failure leaves nothing of it behind while the caller's earlier work in the same transaction
survives; it writes one audit record. The read side is ``backend.ledger.queries``; the whole API
is documented in backend/ledger/__init__.py.

Rooms, in the order a movement passes through them::

    transfers.transfer / holds.hold, post_hold, void_hold / batch.execute_batch
        -> legs.validated (static checks)  -> batch: resolve the holds named by post and void
        -> engine.execute (savepoint; fast path for all-new ids, else the careful path:
           lock accounts in ascending id order, then holds, then look up the ids; replay or
           apply each leg to the working balances)
        -> journal (journal rows, holds, balance columns, the audit record)
    transfers.reverse_transfer, holds.expire_holds build their leg and enter at engine.execute

``approvals`` is maker-checker for large transfers and holds (a second user approves);
``accounts`` opens, closes and locks accounts; ``books`` is what areas share on top of it
(named accounts per owner, shortfalls told in the area's words).
"""

from backend.ledger.service import approvals
from backend.ledger.service.accounts import (
    close_account,
    lock_accounts,
    locked_balances,
    open_account,
)
from backend.ledger.service.batch import execute_batch
from backend.ledger.service.books import (
    AccountSlot,
    account_code,
    named_shortfalls,
    owned_accounts,
    shortfall_error,
)
from backend.ledger.service.holds import expire_holds, hold, post_hold, void_hold
from backend.ledger.service.legs import BatchResult, TransferSpec
from backend.ledger.service.transfers import reverse_transfer, transfer

__all__ = [
    "AccountSlot",
    "BatchResult",
    "TransferSpec",
    "account_code",
    "approvals",
    "close_account",
    "execute_batch",
    "expire_holds",
    "hold",
    "lock_accounts",
    "locked_balances",
    "named_shortfalls",
    "open_account",
    "owned_accounts",
    "post_hold",
    "reverse_transfer",
    "shortfall_error",
    "transfer",
    "void_hold",
]
