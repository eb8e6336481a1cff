"""Acceptance-bill maturity reminders: floor-plan bills (to the dealer) and asset-pool bills (to
the enterprise) maturing in 7, 3 or 1 days, and overdue ones, one item per bill and milestone.

A bill's milestone is the nearest one it has reached (``d7``: 4 to 7 days left, ``d3``: 2 or 3,
``d1``: 1 or 0, ``overdue``: past its maturity date or marked overdue), so a day the robot does
not run loses no reminder and a bill is told each milestone at most once. The reminder goes
through the platform's notifier (``notifier_of``: the one marketing's campaigns use) as a
mini-program message to each active user of the bill's org, with the idempotency key
``rpa-bill-reminder:<kind>:<bill>:<milestone>:u<user>`` (a gateway that honours it sends a
retried message once). What was sent is kept as an audit record per bill and milestone
(``rpa.bill_reminder``, object ``fp_bill``/``ap_bill`` ``<bill id>:<milestone>``) in the item's
transaction: a second run finds it and sends nothing new, and no table of its own is needed.

Dates are the bill's own (UTC calendar days, as the floor-plan maturity sweep counts them).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend.assetpool.models import PoolBill
from backend.floorplan.models import Bill
from backend.floorplan.rules import OPEN_BILL
from backend.identity.models import Org, User
from backend.platform import audit
from backend.platform.audit import AuditRecord
from backend.platform.money import format_money
from backend.platform.notifier import Message, notifier_of
from backend.rpa.robot import (
    ApplicationFailure,
    BusinessFailure,
    ItemContext,
    Manifest,
    Robot,
    RunContext,
    Schedule,
)

ACTION = "rpa.bill_reminder"
HORIZON_DAYS = 7
OBJECT_TYPES = {"floorplan": "fp_bill", "assetpool": "ap_bill"}


def milestone(maturity: date, today: date, overdue: bool = False) -> str | None:
    """The reminder a bill maturing on ``maturity`` is due on ``today``; None: not yet."""
    left = (maturity - today).days
    if overdue or left < 0:
        return "overdue"
    if left <= 1:
        return "d1"
    if left <= 3:
        return "d3"
    if left <= HORIZON_DAYS:
        return "d7"
    return None


def _sent(session, kind: str, bill_id: int, stage: str) -> bool:
    return (
        session.scalar(
            select(AuditRecord.id)
            .where(
                AuditRecord.action == ACTION,
                AuditRecord.object_type == OBJECT_TYPES[kind],
                AuditRecord.object_id == f"{bill_id}:{stage}",
            )
            .limit(1)
        )
        is not None
    )


def _due(session, today: date):
    """(kind, bill id, maturity date, overdue flag) of every bill within the horizon."""
    horizon = today + timedelta(days=HORIZON_DAYS)
    for bill_id, maturity, status in session.execute(
        select(Bill.id, Bill.maturity_date, Bill.status)
        .where(
            (Bill.status == "overdue")
            | (Bill.status.in_(OPEN_BILL) & (Bill.maturity_date <= horizon))
        )
        .order_by(Bill.id)
    ):
        yield "floorplan", bill_id, maturity, status == "overdue"
    for bill_id, maturity in session.execute(
        select(PoolBill.id, PoolBill.maturity_date)
        .where(PoolBill.status == "outstanding", PoolBill.maturity_date <= horizon)
        .order_by(PoolBill.id)
    ):
        yield "assetpool", bill_id, maturity, False


def produce(ctx: RunContext):
    today = ctx.now.date()
    for kind, bill_id, maturity, overdue in _due(ctx.session, today):
        if maturity is None:
            continue
        stage = milestone(maturity, today, overdue)
        if stage is not None and not _sent(ctx.session, kind, bill_id, stage):
            yield {"kind": kind, "bill_id": bill_id, "milestone": stage}


def _bill(session, kind: str, bill_id: int) -> dict[str, Any] | None:
    """The bill as the reminder tells it; None when it is no longer owed."""
    if kind == "floorplan":
        bill = session.get(Bill, bill_id)
        if bill is None or bill.status not in (*OPEN_BILL, "overdue"):
            return None
        owed = bill.advance_outstanding if bill.status == "overdue" else bill.outstanding
        return {
            "org_id": bill.dealer_org_id,
            "bill_no": bill.bill_no,
            "amount": owed,
            "maturity": bill.maturity_date,
            "overdue": bill.status == "overdue",
        }
    bill = session.get(PoolBill, bill_id)
    if bill is None or bill.status != "outstanding":
        return None
    return {
        "org_id": bill.org_id,
        "bill_no": bill.bill_no,
        "amount": bill.amount,
        "maturity": bill.maturity_date,
        "overdue": False,
    }


def _body(bill: dict[str, Any], stage: str, today: date) -> str:
    amount = format_money(bill["amount"])
    if stage == "overdue":
        return (
            f"Acceptance bill {bill['bill_no']} matured on {bill['maturity'].isoformat()} and "
            f"{amount} CNY is overdue. Please repay at once or contact your relationship manager."
        )
    left = (bill["maturity"] - today).days
    when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
    return (
        f"Acceptance bill {bill['bill_no']} ({amount} CNY) matures {when}, on "
        f"{bill['maturity'].isoformat()}. Please make sure the funds are in your account."
    )


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    kind, bill_id, stage = payload["kind"], int(payload["bill_id"]), payload["milestone"]
    if kind not in OBJECT_TYPES or stage not in ("d7", "d3", "d1", "overdue"):
        raise BusinessFailure("bad_item", "unknown bill kind or milestone", {"payload": payload})
    if _sent(session, kind, bill_id, stage):
        return {"status": "already_sent"}
    bill = _bill(session, kind, bill_id)
    if bill is None:
        return {"status": "no_longer_owed"}
    org = session.get(Org, bill["org_id"])
    users = list(
        session.scalars(
            select(User)
            .where(User.org_id == bill["org_id"], User.active.is_(True), User.revoked_at.is_(None))
            .order_by(User.id)
        )
    )
    if not users:
        raise BusinessFailure(
            "no_recipient",
            f"nobody at {org.code if org else bill['org_id']} to remind of {bill['bill_no']}",
            {"org_id": bill["org_id"], "bill_no": bill["bill_no"]},
        )
    notifier = notifier_of(session)
    body = _body(bill, stage, ctx.now.date())
    refs = []
    for user in users:
        receipt = notifier.send(
            Message(
                channel="miniapp",
                to=str(user.id),
                body=body,
                key=f"rpa-bill-reminder:{kind}:{bill_id}:{stage}:u{user.id}",
                meta={"robot": "bill_reminders", "bill_no": bill["bill_no"], "milestone": stage},
            )
        )
        if not receipt.sent:  # the provider is down or refused: try the item again later
            raise ApplicationFailure(receipt.error or "not_sent", f"reminder to {user.id} failed")
        refs.append(receipt.ref)
    audit.record(
        session,
        ctx.actor,
        ACTION,
        OBJECT_TYPES[kind],
        f"{bill_id}:{stage}",
        None,
        {"bill_no": bill["bill_no"], "recipients": [u.id for u in users], "run_id": ctx.run_id},
    )
    return {"status": "sent", "bill_no": bill["bill_no"], "recipients": len(users)}


ROBOT = Robot(
    manifest=Manifest(
        name="bill_reminders",
        version="1.0.0",
        department="operations",
        title="Acceptance bill maturity reminders",
        description=(
            "Floor-plan and asset-pool bills maturing in 7, 3, 1 days or overdue: one "
            "mini-program reminder per bill and milestone to the dealer or enterprise."
        ),
        input_schema={"kind": "str", "bill_id": "int", "milestone": "str"},
        schedule=Schedule(cron="0 9 * * *"),
        timeout_s=30,
        max_retries=3,
        manual_minutes=Decimal("3"),
    ),
    produce=produce,
    process=process,
)
