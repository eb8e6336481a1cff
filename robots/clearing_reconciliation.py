"""Commodity clearing: the daily reconciliation reviewed per trader, one item per (clearing
house, trader) for the business date.

The clearing house's end-of-day file is compared with the ledger by the clearing area itself
(``service.reconcile``, when the file arrives over the signed interface, from staff or from a
folder): it stores a ``Reconciliation`` and one ``Difference`` per field that differs. This
robot closes the loop for each trader: the latest reconciliation of the house for the date,
and in it the trader's still-open differences:

- none: ``matched``, with the trader's accounts, balances and the day's applied instructions;
- some: ``BusinessFailure("difference")`` with each difference (account, field, ours,
  theirs, amount) for operations to chase;
- no file yet for the date: an APPLICATION failure (``file_missing``): retried with back-off,
  since files arrive late; after the retries the item is FAILED and shows on the monitor.

Rows of the file for accounts the bank does not know carry no trader: when a reconciliation
has some, one more item (``trader_org_id`` 0) reviews them.

``params``: ``business_date`` (YYYY-MM-DD; default the run's UTC date, the date the clearing
house stamps its instructions with).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend.clearing.models import ClearingHouse, Difference, Reconciliation, TraderAccount
from backend.clearing.service import balance_of
from backend.clearing.service.reconcile import day_counts
from backend.identity.models import Org
from backend.platform.money import format_money
from backend.rpa.robot import (
    ApplicationFailure,
    BusinessFailure,
    ItemContext,
    Manifest,
    Robot,
    RunContext,
    Schedule,
)

UNKNOWN = 0  # the item of rows for accounts the bank does not know


def _business_date(ctx: RunContext) -> date:
    given = ctx.params.get("business_date")
    return date.fromisoformat(str(given)) if given else ctx.now.date()


def _latest(session, house_id: int, day: date) -> Reconciliation | None:
    return session.scalar(
        select(Reconciliation)
        .where(Reconciliation.clearing_house_id == house_id, Reconciliation.business_date == day)
        .order_by(Reconciliation.id.desc())
        .limit(1)
    )


def produce(ctx: RunContext):
    session = ctx.session
    day = _business_date(ctx)
    houses = session.scalars(
        select(ClearingHouse).where(ClearingHouse.status == "active").order_by(ClearingHouse.id)
    )
    for house in houses:
        traders = session.scalars(
            select(TraderAccount.trader_org_id)
            .where(TraderAccount.clearing_house_id == house.id)
            .distinct()
            .order_by(TraderAccount.trader_org_id)
        )
        for trader in traders:
            yield {"house_id": house.id, "business_date": day.isoformat(), "trader_org_id": trader}
        run = _latest(session, house.id, day)
        if run is not None and _open(session, run, None):
            yield {"house_id": house.id, "business_date": day.isoformat(), "trader_org_id": 0}


def _open(session, run: Reconciliation, trader_org_id: int | None) -> list[Difference]:
    owner = (
        Difference.trader_org_id.is_(None)
        if trader_org_id is None
        else Difference.trader_org_id == trader_org_id
    )
    return list(
        session.scalars(
            select(Difference)
            .where(Difference.reconciliation_id == run.id, Difference.status == "open", owner)
            .order_by(Difference.id)
        )
    )


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    house = session.get(ClearingHouse, int(payload["house_id"]))
    if house is None:
        raise BusinessFailure("unknown_house", "no such clearing house", {"payload": payload})
    day = date.fromisoformat(str(payload["business_date"]))
    trader = int(payload["trader_org_id"])
    run = _latest(session, house.id, day)
    if run is None:
        raise ApplicationFailure(
            "file_missing", f"no reconciliation file from {house.code} for {day.isoformat()} yet"
        )
    found = _open(session, run, None if trader == UNKNOWN else trader)
    org = session.get(Org, trader) if trader != UNKNOWN else None
    who = org.code if org is not None else "accounts unknown to the bank"
    if found:
        raise BusinessFailure(
            "difference",
            f"{house.code} {day.isoformat()}: {len(found)} difference(s) for {who}",
            {
                "house": house.code,
                "business_date": day.isoformat(),
                "reconciliation_id": run.id,
                "trader": who,
                "differences": [
                    {
                        "id": d.id,
                        "account_no": d.account_no,
                        "field": d.field,
                        "ours": d.ours,
                        "theirs": d.theirs,
                        "amount": format_money(d.amount),
                    }
                    for d in found
                ],
            },
        )
    counts = day_counts(session, house.id, day)
    accounts = []
    if trader != UNKNOWN:
        for account in session.scalars(
            select(TraderAccount)
            .where(
                TraderAccount.clearing_house_id == house.id,
                TraderAccount.trader_org_id == trader,
            )
            .order_by(TraderAccount.id)
        ):
            posted, held, _available = balance_of(session, account)
            accounts.append(
                {
                    "account_no": account.account_no,
                    "balance": format_money(posted),
                    "held": format_money(held),
                    "instructions": counts.get(account.id, 0),
                }
            )
    return {
        "status": "matched",
        "house": house.code,
        "trader": who,
        "reconciliation_id": run.id,
        "accounts": accounts,
    }


ROBOT = Robot(
    manifest=Manifest(
        name="clearing_reconciliation",
        version="1.0.0",
        department="operations",
        title="Commodity clearing daily reconciliation per trader",
        description=(
            "The clearing house's end-of-day file against the ledger, per trader: matched, or "
            "each open difference to operations for review."
        ),
        input_schema={"house_id": "int", "business_date": "date", "trader_org_id": "int"},
        schedule=Schedule(cron="0 17 * * 1-5"),
        timeout_s=30,
        max_retries=4,
        manual_minutes=Decimal("8"),
    ),
    produce=produce,
    process=process,
)
