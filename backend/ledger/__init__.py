"""The ledger: one double-entry book for every money movement in FinEdge.

Modelled on TigerBeetle (accounts, transfers, two-phase pending transfers, client-chosen ids
that make retries exactly-once) and Fineract's holds. Margin, acceptance bills, repayments,
factoring, the asset pool, clearing and cash loading all move money through this API and
nothing else. Money is ``Decimal`` CNY with two places (strings like "1250.00" are accepted).

Service API (``from backend import ledger``; every function takes ``session`` and ``actor``,
the caller commits; movements run in a SAVEPOINT and write one audit record each)::

    open_account(session, actor, *, code, name, kind, owner_org_id=None, currency="CNY",
                 debits_must_not_exceed_credits=None, credits_must_not_exceed_debits=None)
        -> Account          idempotent on code; kind in deposit|margin|loan|bill|suspense|
                            internal|cash_in_device; flags default by kind (deposit and margin
                            cannot be overdrawn, a cash unit cannot pay out more than loaded)
    close_account(session, actor, account_id) -> Account        only when empty and unheld
    get_account / find_account(code) / list_accounts(..., limit, cursor) -> Account / Page
    get_balance(session, actor, account_id) -> Balance          posted, pending, available

    transfer(session, actor, *, transfer_id, debit_account_id, credit_account_id, amount,
             code, reference=None, currency="CNY") -> Transfer
    hold(...same..., timeout_s=None | expires_at=None) -> Transfer     freeze (pending transfer)
    post_hold(session, actor, *, hold_transfer_id, amount=None, transfer_id=None) -> Transfer
                            post in full or in part; the rest is released
    void_hold(session, actor, *, hold_transfer_id, transfer_id=None) -> Transfer   unfreeze
    expire_holds(session, actor, *, now=None, limit=500) -> int   (job ``ledger.expire_holds``)
    execute_batch(session, actor, [TransferSpec.single(...) | .hold(...) | .post(...) |
                  .void(...)], batch_id=None) -> BatchResult   all or nothing, legs in order;
                            BatchResult.transfer_ids, .replayed (per leg), .transfers (the
                            journal rows, loaded on first use)
    reverse_transfer(session, actor, *, original_transfer_id, transfer_id=None) -> Transfer
                            the only way to correct the journal: a transfer back, once
    get_transfer / get_hold / list_holds(account_id, state=) / statement(account_id, limit,
                  cursor) -> Page of StatementLine
    verify(session) -> VerifyReport      recompute balances from the journal (CLI:
                                          ``finedge ledger verify``, non-zero exit on difference)
    lock_accounts(session, ids) -> {id: Account}; balance_of(account) -> Balance;
    locked_balances(session, *ids) -> {id: Balance}
                            for callers that must compute amounts from balances they hold locked
    owned_accounts(session, actor, area, owner, {purpose: AccountSlot(kind, label)},
                   owner_name=, owner_org_id=None) -> {purpose: Account}
                            an area's accounts ``<area>:<owner>:<purpose>``, opened or got
    named_shortfalls({account_id: "margin"})   context manager: the ledger's insufficient_funds
                            on a named account is raised as insufficient_<name>

Modules: ``service`` (the write side, a package: accounts, transfers, holds, batch, engine,
journal, books), ``queries`` (the read side: accounts, balances, transfers, holds, statements),
``verify`` (the books recomputed), ``rules`` (pure arithmetic), ``models`` (tables). HTTP:
miniapp_api/ledger.py (/api/v1/ledger/...). Job: backend/ledger/jobs.py. CLI group
(``finedge ledger``): backend/ledger/cli.py. Benchmark: bench/ledger.py.

All functions accept ``now=`` (an aware UTC datetime) where time matters, for tests.

Idempotency: ``transfer_id`` is chosen by the client (1-64 of ``A-Za-z0-9._:/@#-``). The same
id with the same fields returns the stored transfer and changes nothing; with other fields it
raises 409 ``transfer_id_reused`` and changes nothing. Post, void, expiry and reversal ids
default to ``<id>~post``, ``~void``, ``~expire``, ``~reverse`` ('~' is reserved for them).

Maker-checker (``service.approvals``): ``submit(session, actor, spec, limit=)`` applies a
transfer or hold at once up to ``limit`` and above it stores an ``ApprovalRequest`` (idempotent on
``transfer_id``, audited); ``approve``/``reject`` by a user with approver rights other than the
maker (403 ``maker_checker_violation``) applies it or turns it down. The HTTP edge uses it for
tellers' transfers and holds with the limits FINEDGE_LEDGER_TRANSFER_APPROVAL_LIMIT and
FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT (docs/CONTRACT.md); a batch leg above them is refused (422
``approval_required``).

Authorization: reads check visibility (bank staff see all, others only their org's accounts).
Movements do not check roles: the calling use case (an HTTP view for bank staff, the floor-plan
service redeeming a car, a job) decides who may move money; the actor is recorded.

Errors (``backend.platform.errors``; code -> HTTP status at the edge):
    400 invalid_amount (zero, negative, three places, float, > 9999999999999.99),
        invalid_transfer_id, invalid_currency, invalid_transfer_code, invalid_reference,
        invalid_timeout, invalid_transfer_kind, invalid_account_id, accounts_must_differ,
        empty_batch, batch_too_large, transfer_id_duplicated_in_batch, hold_in_same_batch,
        invalid_account_kind, invalid_account_flags, invalid_account_code, invalid_hold_state
    403 maker_checker_violation (approvals)
    404 account_not_found, hold_not_found, transfer_not_found, org_not_found, approval_not_found
    409 transfer_id_reused, account_code_taken
    422 insufficient_funds, exceeds_debits, balance_limit_exceeded, account_closed,
        currency_mismatch,
        amount_exceeds_hold, hold_already_resolved, hold_expired, not_a_hold,
        transfer_not_reversible, transfer_already_reversed, account_not_empty,
        account_has_holds, approval_already_decided, approval_required

Bounds: one movement at most ``rules.MAX_AMOUNT`` (9,999,999,999,999.99); an account's balance
either way, pending included, at most ``rules.MAX_BALANCE`` (9,999,999,999,999,999.99) and each
side's running total (posted + pending) at most ``rules.MAX_TOTAL`` (90,000,000,000,000,000.00),
checked in the posting transaction: 422 ``balance_limit_exceeded`` with details ``account_id``,
``figure`` (debit_balance | credit_balance | debits_total | credits_total) and ``limit``. A
movement that lowers the figure is never refused. Money is exact in the database: NUMERIC(20, 2)
on PostgreSQL, integer fen on SQLite (``MoneyType``, migration 0012_money_exact).

Sign conventions and balance formulas: backend/ledger/rules.py. Tables: backend/ledger/models.py.
"""

from backend.ledger.models import Account, Hold, Transfer
from backend.ledger.queries import (
    Balance,
    StatementLine,
    balance_of,
    find_account,
    get_account,
    get_balance,
    get_hold,
    get_transfer,
    list_accounts,
    list_holds,
    statement,
)
from backend.ledger.service import (
    AccountSlot,
    BatchResult,
    TransferSpec,
    account_code,
    close_account,
    execute_batch,
    expire_holds,
    hold,
    lock_accounts,
    locked_balances,
    named_shortfalls,
    open_account,
    owned_accounts,
    post_hold,
    reverse_transfer,
    transfer,
    void_hold,
)
from backend.ledger.verify import Difference, VerifyReport, verify

__all__ = [
    "Account",
    "AccountSlot",
    "Balance",
    "BatchResult",
    "Difference",
    "Hold",
    "StatementLine",
    "Transfer",
    "TransferSpec",
    "VerifyReport",
    "account_code",
    "balance_of",
    "close_account",
    "execute_batch",
    "expire_holds",
    "find_account",
    "get_account",
    "get_balance",
    "get_hold",
    "get_transfer",
    "hold",
    "list_accounts",
    "list_holds",
    "lock_accounts",
    "locked_balances",
    "named_shortfalls",
    "open_account",
    "owned_accounts",
    "post_hold",
    "reverse_transfer",
    "statement",
    "transfer",
    "verify",
    "void_hold",
]
