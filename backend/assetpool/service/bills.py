"""New acceptance bills against the pool's capacity, in one call, and their payment at
maturity.

Acceptance (``accept_bill``): risk gate (a hard signal blocks), the pool locked and
recomputed, the capacity checked, then one ledger batch ``ap:bill<id>:accept``: the fee
(enterprise deposit -> ``ap:bank:fees``) and the margin the configuration asks for (a hold from
the enterprise deposit to the bill's account); the bill is issued (status ``outstanding``,
the configuration version recorded), the capacity reduced by its face value, audited.

Payment at maturity (``pay_bill``, the job ``assetpool.bill_maturity``): one batch
``ap:bill<id>:settle``: the margin hold posted, then the pool's margin cash, then the
enterprise's deposit, then a bank advance (``ap:org<id>:advance``) for what is still short,
collected on the bill's account and paid to the payee through ``ap:bank:clearing``. An advance
records a ``pool_shortfall`` risk event.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.assetpool import access, accounts, risk_port, rules
from backend.assetpool.models import PoolBill
from backend.assetpool.service.assets import check_maturity
from backend.assetpool.service.config import in_force
from backend.assetpool.service.pools import lock_pool, move, refresh, settle
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, ValidationFailed
from backend.platform.money import parse_money

ZERO = rules.ZERO


def accept_bill(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    payee: str,
    amount: Decimal | str,
    maturity_date: date,
    now: datetime | None = None,
) -> PoolBill:
    """The enterprise has a new e-bill accepted against its pool (see the module)."""
    now = now or utcnow()
    if not isinstance(payee, str) or not 1 <= len(payee.strip()) <= 200:
        raise ValidationFailed("payee: 1-200 characters", details={"payee": ["1-200 characters"]})
    value = parse_money(amount, field="amount", positive=True)
    maturity = check_maturity(maturity_date, now.date())
    pool = access.get_pool(session, actor, pool_id)
    risk_port.ensure_no_blocking_signal(session, actor, pool.org_id)
    with session.begin_nested():
        pool = access.pool_to_change(session, actor, pool_id)
        force = in_force(session, now)
        if maturity > now.date() + timedelta(days=force.values["max_bill_days"]):
            raise BusinessRuleViolation(
                f"a pool bill runs at most {force.values['max_bill_days']} days",
                code="bill_term_too_long",
                details={"max_bill_days": force.values["max_bill_days"]},
            )
        before = refresh(session, actor, pool, now)
        if value > before.capacity:
            raise BusinessRuleViolation(
                "the amount exceeds the pool's capacity",
                code="insufficient_capacity",
                details={"capacity": str(before.capacity), "requested": str(value)},
            )
        fee, margin = rules.bill_charges(force.values, value)
        bill = PoolBill(
            bill_no=f"APB-{now:%Y%m%d%H%M%S%f}-{pool.id}",  # replaced once the id is known
            pool_id=pool.id,
            org_id=pool.org_id,
            payee=payee.strip(),
            amount=value,
            fee=fee,
            margin=margin,
            issue_date=now.date(),
            maturity_date=maturity,
            status="outstanding",
            config_version=force.version,
            ledger_account_id=pool.deposit_account_id,  # replaced by the bill's own account
            paid_from_margin=ZERO,
            paid_from_deposit=ZERO,
            advanced=ZERO,
            created_by_user_id=actor.user_id,
            created_at=now,
        )
        session.add(bill)
        session.flush()
        bill.bill_no = f"APB{now:%Y%m%d}{bill.id:08d}"
        account = accounts.open_bill_account(session, actor, bill.id, bill.bill_no, now)
        bill.ledger_account_id = account.id
        specs = []
        if fee > 0:
            fees = accounts.bank_accounts(session, actor)["fees"]
            specs.append(
                TransferSpec.single(
                    accounts.bill_transfer_id(bill.id, "fee"),
                    pool.deposit_account_id,
                    fees.id,
                    fee,
                    "ap_acceptance_fee",
                    reference=bill.bill_no,
                )
            )
        if margin > 0:
            specs.append(
                TransferSpec.hold(
                    accounts.bill_transfer_id(bill.id, "margin"),
                    pool.deposit_account_id,
                    account.id,
                    margin,
                    "ap_bill_margin",
                    reference=bill.bill_no,
                )
            )
        if specs:
            with ledger.named_shortfalls({pool.deposit_account_id: "deposit"}):
                ledger.execute_batch(
                    session,
                    actor,
                    specs,
                    batch_id=accounts.bill_transfer_id(bill.id, "accept"),
                    now=now,
                )
        lines = [move(session, pool, "bill_issued", value, bill.bill_no, now)]
        if fee > 0:
            lines.append(move(session, pool, "fee", fee, bill.bill_no, now))
        if margin > 0:
            lines.append(move(session, pool, "bill_margin", margin, bill.bill_no, now))
        after = settle(session, actor, pool, lines, now)
        audit.record(
            session,
            actor,
            "assetpool.bill_accepted",
            "ap_bill",
            bill.id,
            after={
                "bill_no": bill.bill_no,
                "payee": bill.payee,
                "amount": value,
                "fee": fee,
                "margin": margin,
                "maturity_date": maturity,
                "config_version": force.version,
                "capacity": after.capacity,
            },
        )
    return bill


def pay_bill(
    session: Session, actor: Actor, bill_id: int, *, now: datetime | None = None
) -> PoolBill:
    """Pay a bill at (or after) its maturity: margin hold, margin cash, deposit, then a bank
    advance; the payee is paid through the bank's clearing account."""
    now = now or utcnow()
    bill = session.get(PoolBill, bill_id)
    if bill is None or bill.status != "outstanding":
        raise Conflict("the bill is not outstanding", code="bill_not_outstanding")
    pool = lock_pool(session, bill.pool_id)
    bill = session.get(PoolBill, bill_id, with_for_update=True, populate_existing=True)
    if bill.status != "outstanding":
        raise Conflict("the bill is not outstanding", code="bill_not_outstanding")
    if bill.maturity_date > now.date():
        raise BusinessRuleViolation("the bill is not due yet", code="bill_not_due")
    balances = ledger.locked_balances(session, pool.margin_account_id, pool.deposit_account_id)
    due = bill.amount - bill.margin
    from_margin = min(due, max(ZERO, balances[pool.margin_account_id].available))
    from_deposit = min(due - from_margin, max(ZERO, balances[pool.deposit_account_id].available))
    advance = due - from_margin - from_deposit
    step = lambda name: accounts.bill_transfer_id(bill.id, name)  # noqa: E731
    specs = []
    if bill.margin > 0:
        specs.append(TransferSpec.post(step("margin")))
    for name, source, amount in (
        ("from-margin", pool.margin_account_id, from_margin),
        ("from-deposit", pool.deposit_account_id, from_deposit),
        ("advance", pool.advance_account_id, advance),
    ):
        if amount > 0:
            specs.append(
                TransferSpec.single(
                    step(name),
                    source,
                    bill.ledger_account_id,
                    amount,
                    f"ap_bill_{name}",
                    reference=bill.bill_no,
                )
            )
    clearing = accounts.bank_accounts(session, actor)["clearing"]
    specs.append(
        TransferSpec.single(
            step("pay"),
            bill.ledger_account_id,
            clearing.id,
            bill.amount,
            "ap_bill_paid",
            reference=bill.bill_no,
        )
    )
    ledger.execute_batch(session, actor, specs, batch_id=step("settle"), now=now)
    bill.status, bill.paid_at = "paid", now
    bill.paid_from_margin, bill.paid_from_deposit, bill.advanced = (
        from_margin,
        from_deposit,
        advance,
    )
    lines = [move(session, pool, "bill_paid", bill.amount, bill.bill_no, now)]
    if advance > 0:
        lines.append(move(session, pool, "advance", advance, bill.bill_no, now))
        risk_port.record_shortfall(
            session,
            actor,
            org_id=pool.org_id,
            amount=advance,
            source_time=now,
            external_id=step("advance"),
        )
    settle(session, actor, pool, lines, now)
    audit.record(
        session,
        actor,
        "assetpool.bill_paid",
        "ap_bill",
        bill.id,
        before={"status": "outstanding"},
        after={
            "status": "paid",
            "margin": bill.margin,
            "from_margin": from_margin,
            "from_deposit": from_deposit,
            "advanced": advance,
        },
    )
    return bill


def due_bills(session: Session, today: date) -> list[int]:
    return list(
        session.scalars(
            select(PoolBill.id)
            .where(PoolBill.status == "outstanding", PoolBill.maturity_date <= today)
            .order_by(PoolBill.id)
        )
    )
