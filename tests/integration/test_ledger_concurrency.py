"""Many threads moving money between a handful of accounts at once, on SQLite and PostgreSQL.

Each thread runs random transfers, holds, posts and voids (holds are shared, so threads race to
resolve the same hold), and re-sends some requests with the same transfer_id, each request in its
own transaction through ``run_in_transaction``. Afterwards: the total is unchanged, no
deposit is overdrawn, every retried id was applied once, and ``verify`` passes.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal

from sqlalchemy import func, select

from backend import ledger
from backend.ledger import TransferSpec
from backend.ledger.models import Account, Hold, Transfer
from backend.platform.context import SYSTEM, Actor
from backend.platform.db import run_in_transaction
from backend.platform.errors import DomainError

THREADS, OPS, ACCOUNTS = 8, 40, 5
EXPECTED_REFUSALS = {"insufficient_funds", "hold_already_resolved"}


def test_random_concurrent_operations_keep_the_books(session_factory):
    with session_factory() as session:
        funding = ledger.open_account(session, SYSTEM, code="funding", name="f", kind="internal")
        ids = []
        for i in range(ACCOUNTS):
            account = ledger.open_account(
                session, SYSTEM, code=f"acct:{i}", name=f"a{i}", kind="deposit"
            )
            ledger.transfer(
                session,
                SYSTEM,
                transfer_id=f"fund:{i}",
                debit_account_id=funding.id,
                credit_account_id=account.id,
                amount="1000.00",
                code="funding",
            )
            ids.append(account.id)
        session.commit()

    holds: list[str] = []
    holds_lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []
    retried: list[tuple[str, int, int]] = []  # (transfer_id, first row id, retry row id)
    refusals: dict[str, int] = {}

    def run(spec: TransferSpec) -> Transfer | None:
        try:
            result = run_in_transaction(
                session_factory, lambda s: ledger.execute_batch(s, actor, [spec]).transfers[0]
            )
        except DomainError as exc:
            if exc.code not in EXPECTED_REFUSALS:
                raise
            refusals[exc.code] = refusals.get(exc.code, 0) + 1
            return None
        return result

    actor = Actor(user_id=None, username="teller", role="teller", org_id=None)

    def worker(n: int) -> None:
        rng = random.Random(1000 + n)
        sent: list[TransferSpec] = []
        barrier.wait()
        try:
            for k in range(OPS):
                op = rng.random()
                debit, credit = rng.sample(ids, 2)
                amount = Decimal(rng.randint(1, 40000)) / 100
                tid = f"w{n}:{k}"
                if op < 0.35:
                    spec = TransferSpec.single(tid, debit, credit, amount, "pay")
                elif op < 0.6:
                    spec = TransferSpec.hold(tid, debit, credit, amount, "freeze")
                elif op < 0.85 and holds:
                    with holds_lock:
                        target = rng.choice(holds)
                    if rng.random() < 0.5:
                        # default id (<hold>~post): racing threads replay each other's post
                        spec = TransferSpec.post(target, None)
                    else:
                        spec = TransferSpec.void(target, transfer_id=tid)
                elif sent:
                    spec = rng.choice(sent)  # a client retry with the same id and fields
                    first = _row_id(session_factory, spec.transfer_id)
                    again = run(spec)
                    if first is not None and again is not None:
                        retried.append((spec.transfer_id, first, again.id))
                    elif first is not None:
                        raise AssertionError(f"retry of applied {spec.transfer_id} was refused")
                    continue
                else:
                    continue
                done = run(spec)
                if done is not None and spec.transfer_id:
                    sent.append(spec)
                    if spec.kind == "pending":
                        with holds_lock:
                            holds.append(spec.transfer_id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures

    with session_factory() as session:
        rows = session.scalars(select(Account).where(Account.id.in_(ids))).all()
        total = sum(a.credits_posted - a.debits_posted for a in rows)
        assert total == Decimal("5000.00")
        for a in rows:
            assert a.debits_posted + a.debits_pending <= a.credits_posted, a.code
            assert a.debits_pending >= 0 and a.credits_pending >= 0
        for tid, first, again in retried:
            assert first == again, tid
            count = session.scalar(
                select(func.count()).select_from(Transfer).where(Transfer.transfer_id == tid)
            )
            assert count == 1
        resolved = session.scalar(
            select(func.count()).select_from(Hold).where(Hold.state != "pending")
        )
        resolutions = session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.pending_id.is_not(None))
        )
        assert resolved == resolutions
        report = ledger.verify(session)
        assert report.ok, report.differences
        assert report.transfers > THREADS * OPS // 3
    assert retried, "the random run retried nothing"
    assert refusals.get("insufficient_funds"), "the random run never hit a limit"


def _row_id(session_factory, transfer_id: str) -> int | None:
    with session_factory() as session:
        return session.scalar(select(Transfer.id).where(Transfer.transfer_id == transfer_id))
