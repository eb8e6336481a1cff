"""Floor-plan daily margin reconciliation, one item per dealer's credit line.

The margin the floor-plan rules require of a dealer (each unpaid car's margin share, plus the
margin of every issued bill not yet shipped: ``dealer_summary``'s ``required_margin``) is
compared with the margin the ledger actually freezes on the dealer's margin account (its
pending holds, the summary's ``frozen``):

- equal: ``matched``;
- short, and the dealer's free margin plus its deposit cover the gap: the gap is frozen as
  margin through the ledger in one batch (what free margin lacks moved deposit -> margin, then
  a hold margin -> deposit for the whole gap, code ``fp_margin_reconcile``), with transfer ids
  derived from ``ctx.idempotency_key``: a retried item never moves money twice, and an item
  whose money already moved answers ``already_applied``;
- short beyond what the dealer holds, or an excess (more frozen than the rules require):
  ``BusinessFailure("difference")`` for a person in finance to look at.

The hold is on the dealer's own accounts (not a bill's): a bill's account must stay free to
close at maturity. Releasing a reconciliation hold is a person's decision (an excess found
later is reviewed, never voided by the robot).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend import ledger
from backend.floorplan import accounts
from backend.floorplan.models import CreditLine
from backend.floorplan.queries import dealer_summary
from backend.ledger import TransferSpec
from backend.ledger.models import Transfer
from backend.platform.money import format_money
from backend.rpa.robot import BusinessFailure, ItemContext, Manifest, Robot, RunContext, Schedule

ZERO = Decimal("0.00")
HOLD_CODE = "fp_margin_reconcile"


def produce(ctx: RunContext):
    """One item per credit line (every dealer with a line, active or suspended: a suspended
    line's cars still need their margin)."""
    for line_id, dealer_id in ctx.session.execute(
        select(CreditLine.id, CreditLine.dealer_org_id).order_by(CreditLine.id)
    ):
        yield {"credit_line_id": line_id, "dealer_org_id": dealer_id}


def _ids(ctx: ItemContext) -> tuple[str, str]:
    key = ctx.idempotency_key
    return f"{key}:topup", f"{key}:hold"


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    topup_id, hold_id = _ids(ctx)
    done = session.scalar(select(Transfer).where(Transfer.transfer_id == hold_id))
    if done is not None:  # this item's money moved in an earlier attempt that committed
        return {"status": "already_applied", "frozen": format_money(done.amount)}
    line = session.get(CreditLine, int(payload["credit_line_id"]))
    if line is None or line.dealer_org_id != int(payload["dealer_org_id"]):
        raise BusinessFailure(
            "unknown_line", "no such credit line for this dealer", {"payload": payload}
        )
    # the dealer's accounts locked first: the figures below cannot move under us
    ledger.lock_accounts(session, [line.deposit_account_id, line.margin_account_id])
    summary = dealer_summary(session, ctx.actor, line.dealer_org_id, now=ctx.now)
    required, held = summary.required_margin, summary.frozen
    figures = {
        "dealer": summary.dealer_code,
        "required": format_money(required),
        "held": format_money(held),
        "free_margin": format_money(summary.free_margin),
        "deposit_available": format_money(summary.deposit_available),
    }
    if required == held:
        return {"status": "matched", **figures}
    if held > required:
        raise BusinessFailure(
            "difference",
            f"{summary.dealer_code}: {format_money(held - required)} more margin frozen than "
            "the floor-plan rules require",
            {**figures, "kind": "excess", "amount": format_money(held - required)},
        )
    shortfall = required - held
    free = max(ZERO, summary.free_margin)
    topup = max(ZERO, shortfall - free)
    if topup > summary.deposit_available:
        raise BusinessFailure(
            "difference",
            f"{summary.dealer_code}: margin short by {format_money(shortfall)}, beyond the "
            "dealer's free margin and deposit",
            {
                **figures,
                "kind": "uncovered_shortfall",
                "amount": format_money(shortfall),
                "uncovered": format_money(topup - summary.deposit_available),
            },
        )
    reference = f"margin reconciliation {summary.dealer_code} {ctx.now.date().isoformat()}"
    specs = []
    if topup > 0:
        specs.append(
            TransferSpec.single(
                topup_id,
                line.deposit_account_id,
                line.margin_account_id,
                topup,
                "fp_margin_topup",
                reference=reference,
            )
        )
    specs.append(
        TransferSpec.hold(
            hold_id,
            line.margin_account_id,
            line.deposit_account_id,
            shortfall,
            HOLD_CODE,
            reference=reference,
        )
    )
    with ledger.named_shortfalls(accounts.shortfall_names(line)):
        ledger.execute_batch(session, ctx.actor, specs, batch_id=ctx.idempotency_key, now=ctx.now)
    ctx.log(f"{summary.dealer_code}: froze {format_money(shortfall)} (topped up {topup})")
    margin = ledger.get_account(session, ctx.actor, line.margin_account_id)
    return {
        "status": "shortfall_frozen",
        **figures,
        "frozen": format_money(shortfall),
        "topped_up": format_money(topup),
        "held_after": format_money(ledger.balance_of(margin).pending),
        "transfer_ids": [s.transfer_id for s in specs],
    }


ROBOT = Robot(
    manifest=Manifest(
        name="margin_reconciliation",
        version="1.0.0",
        department="finance",
        title="Floor-plan daily margin reconciliation",
        description=(
            "Required margin per the floor-plan rules vs the margin the ledger freezes, per "
            "dealer line; a covered shortfall is frozen from the dealer's own money, an "
            "uncovered shortfall or an excess goes to review."
        ),
        input_schema={"credit_line_id": "int", "dealer_org_id": "int"},
        schedule=Schedule(cron="30 18 * * *"),
        timeout_s=60,
        max_retries=3,
        manual_minutes=Decimal("6"),
        moves_money=True,
    ),
    produce=produce,
    process=process,
)
