"""Redemption (赎车): the dealer repays a car's financed amount so it can leave the yard.

- ``full``: the dealer's deposit pays the car's outstanding amount.
- ``margin``: margin pays it: the car's own margin hold is released and the dealer's free margin
  (margin above what its other cars require) pays the amount.
- batch: several cars of one dealer at once, all or nothing.

Each request is one ledger batch: per car ``fp:m:<vin>~void`` (the car's margin released pro
rata: exactly its share) and ``fp:redeem:<vin>`` (source -> the bill's account while the bill
runs, the dealer's advance account after a short maturity sweep). The ids are the car's, so two
concurrent redemptions of one car can only apply once; the car's row lock makes the loser see
the car redeemed (409). Lock order, shared by every money step: credit line, cars, bills, then
the ledger's accounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import ledger
from backend.floorplan import accounts, rules
from backend.floorplan.access import scope_vehicles
from backend.floorplan.agency import Mandate, OnBehalf, authorise_dealer_act, record_act
from backend.floorplan.models import Bill, CreditLine, Curtailment, Redemption, Vehicle
from backend.floorplan.service import credit
from backend.floorplan.service.alerts import resolve_vehicle_alerts
from backend.ledger.service import TransferSpec
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    ValidationFailed,
)

ZERO = Decimal("0.00")
MAX_BATCH = 200
ROUTINE_ALERTS = ("aging", "curtailment_due", "curtailment_overdue", "release_due")


@dataclass
class RedemptionResult:
    redemption: Redemption
    vehicles: list[Vehicle]


def _validated_vins(vins: Sequence[str]) -> list[str]:
    if not vins or len(vins) > MAX_BATCH:
        raise ValidationFailed(
            f"redeem 1 to {MAX_BATCH} cars at a time",
            code="invalid_batch",
            details={"vins": [f"1 to {MAX_BATCH} VINs"]},
        )
    out = [rules.validate_vin(v, f"vins.{i}") for i, v in enumerate(vins)]
    if len(set(out)) != len(out):
        raise ValidationFailed(
            "a VIN appears twice", code="duplicate_vin", details={"vins": ["unique VINs"]}
        )
    return out


def _load(session: Session, actor: Actor, vins: list[str], *, lock: bool) -> list[Vehicle]:
    stmt = scope_vehicles(select(Vehicle).where(Vehicle.vin.in_(vins)), actor).order_by(Vehicle.id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return _all_found(list(session.scalars(stmt)), vins)


def _load_with_bills(
    session: Session, actor: Actor, vins: list[str]
) -> tuple[list[Vehicle], dict[int, Bill]]:
    """The cars and their bills, locked, in one query (the line is already locked)."""
    stmt = (
        scope_vehicles(select(Vehicle, Bill).join(Bill, Bill.id == Vehicle.bill_id), actor)
        .where(Vehicle.vin.in_(vins))
        .order_by(Vehicle.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = session.execute(stmt).all()
    return _all_found([v for v, _ in rows], vins), {b.id: b for _, b in rows}


def _all_found(found: list[Vehicle], vins: list[str]) -> list[Vehicle]:
    if len(found) != len(vins):
        missing = sorted(set(vins) - {v.vin for v in found})
        raise NotFound("vehicle not found", code="vehicle_not_found", details={"vins": missing})
    return found


def check_redeemable(vehicles: Sequence[Vehicle]) -> None:
    done = [v.vin for v in vehicles if v.redeemed_at is not None]
    if done:
        raise Conflict(
            "the car is already redeemed", code="vehicle_already_redeemed", details={"vins": done}
        )
    waiting = [v.vin for v in vehicles if v.status not in rules.REDEEMABLE]
    if waiting:
        raise BusinessRuleViolation(
            "the car is not in stock yet (redeem after the supervisor's intake)",
            code="vehicle_not_in_stock",
            details={"vins": waiting},
        )


def redemption_target(line: CreditLine, bill: Bill) -> int:
    """While the bill runs its account collects the repayment; after a short maturity sweep
    the car's amount is owed on the dealer's advance account."""
    return bill.ledger_account_id if bill.status in rules.OPEN_BILL else line.advance_account_id


def redeem_vehicles(
    session: Session,
    actor: Actor,
    vins: Sequence[str],
    *,
    mode: str,
    on_behalf: dict | OnBehalf | None = None,
    now: datetime | None = None,
) -> RedemptionResult:
    """Redeem ``vins`` (one dealer's) in ``mode``: the dealer itself, or a teller on its
    instruction (``on_behalf``; backend/floorplan/agency.py)."""
    rules.validate_choice(mode, rules.REDEEM_MODES, "mode", "invalid_mode")
    now = now or utcnow()
    vins = _validated_vins(vins)
    if actor.role == "dealer":
        dealer_ids = {actor.org_id}  # own cars only: others' are not visible (404 below)
    else:
        dealer_ids = {v.dealer_org_id for v in _load(session, actor, vins, lock=False)}
    mandates = [authorise_dealer_act(actor, d, on_behalf) for d in sorted(dealer_ids)]
    if len(dealer_ids) != 1:
        raise BusinessRuleViolation("a batch redeems the cars of one dealer", code="mixed_dealers")
    mandate = mandates[0]
    line = credit.lock_line(session, mandate.dealer_org_id)
    vehicles, bills = _load_with_bills(session, actor, vins)
    if any(v.dealer_org_id != line.dealer_org_id for v in vehicles):
        raise BusinessRuleViolation("a batch redeems the cars of one dealer", code="mixed_dealers")
    check_redeemable(vehicles)
    source = line.deposit_account_id if mode == "full" else line.margin_account_id
    voids, pays = [], []
    for v in vehicles:
        if v.margin_held > 0:
            voids.append(TransferSpec.void(accounts.car_margin_hold_id(v.vin)))
        if v.outstanding > 0:
            pays.append(
                TransferSpec.single(
                    accounts.redeem_transfer_id(v.vin),
                    source,
                    redemption_target(line, bills[v.bill_id]),
                    v.outstanding,
                    f"fp_redeem_{mode}",
                    reference=v.vin,
                )
            )
    specs = voids + pays  # released margin first, so that margin mode can spend it
    batch_id = f"fp:rdm:{uuid.uuid4().hex[:20]}" if len(specs) > 1 else None
    transfer_ids: list[str] = []
    if specs:
        with ledger.named_shortfalls(accounts.shortfall_names(line)):
            done = ledger.execute_batch(session, actor, specs, batch_id=batch_id, now=now)
        transfer_ids = list(done.transfer_ids)
    total = sum((v.outstanding for v in vehicles), ZERO)
    released = sum((v.margin_held for v in vehicles), ZERO)
    redemption = Redemption(
        dealer_org_id=line.dealer_org_id,
        mode=mode,
        vehicle_count=len(vehicles),
        amount=total,
        margin_released=released,
        batch_id=batch_id,
        created_at=now,
        created_by_user_id=actor.user_id,
        created_by=actor.username,
    )
    session.add(redemption)
    session.flush()
    audits: list = []
    for v in vehicles:
        mark_repaid(
            session,
            actor,
            line,
            bills[v.bill_id],
            v,
            mode,
            redemption.id,
            now,
            mandate=mandate,
            audits=audits,
        )
    audit.record_all(session, actor, audits)  # one INSERT for the batch's records
    record_act(
        session,
        actor,
        mandate,
        "redeem",
        "fp_vehicle",
        [v.vin for v in vehicles],
        transfer_ids=transfer_ids,
        batch_id=batch_id,
    )
    void_open_curtailments(session, [v for v in vehicles if v.curtailment_status], now)
    alerted = [v.id for v in vehicles if v.aging_level or v.curtailment_status]
    if alerted:  # only these can have routine alerts; skip the query otherwise
        resolve_vehicle_alerts(session, actor, alerted, ROUTINE_ALERTS, now)
    return RedemptionResult(redemption, vehicles)


def mark_repaid(
    session: Session,
    actor: Actor,
    line: CreditLine,
    bill: Bill,
    v: Vehicle,
    mode: str,
    redemption_id: int | None,
    now: datetime,
    *,
    paid: Decimal | None = None,
    mandate: Mandate | None = None,
    audits: list | None = None,
) -> None:
    """Book a car's repayment of ``paid`` (default: all it owes) on the car, its bill and the
    line; the car is redeemed once it owes nothing. Its audit record is written now, or, with
    ``audits``, appended there for the caller to write (``audit.record_all``)."""
    paid = v.outstanding if paid is None else paid
    before = {"status": v.status, "outstanding": v.outstanding, "margin_held": v.margin_held}
    credit.repay(line, paid)
    bill.outstanding -= paid
    if bill.status not in rules.OPEN_BILL:
        bill.advance_outstanding -= min(paid, bill.advance_outstanding)
        if bill.status == "overdue" and bill.advance_outstanding == 0:
            bill.status = "settled"
    v.repaid += paid
    v.outstanding -= paid
    v.advanced = min(v.advanced, v.outstanding)
    if v.outstanding == 0:
        v.margin_held = ZERO  # its hold was voided in the same ledger batch
        v.status = "released" if v.released_at is not None else "redeemed"
        v.redeemed_at = now
        v.redeem_mode = mode
        v.redemption_id = redemption_id
        if v.rbr_amount > 0:
            line.rbr_used -= v.rbr_amount
            v.rbr_amount = ZERO
        v.rbr_due_at = None
    v.updated_at = now
    entry = (
        "floorplan.vehicle_redeemed" if v.outstanding == 0 else "floorplan.vehicle_part_repaid",
        "fp_vehicle",
        v.vin,
        before,
        {
            "status": v.status,
            "mode": mode,
            "paid": paid,
            "outstanding": v.outstanding,
            "redemption_id": redemption_id,
            **(mandate.audit_fields() if mandate else {}),
        },
    )
    if audits is None:
        audit.record(session, actor, *entry)
    else:
        audits.append(entry)


def void_open_curtailments(session: Session, vehicles: Sequence[Vehicle], now: datetime) -> None:
    """A car repaid in full no longer owes its curtailment."""
    ids = [v.id for v in vehicles if v.curtailment_status in ("due", "overdue")]
    if not ids:
        return
    session.execute(
        update(Curtailment)
        .where(Curtailment.vehicle_id.in_(ids), Curtailment.status.in_(("due", "overdue")))
        .values(status="void")
        .execution_options(synchronize_session=False)
    )
    for v in vehicles:
        if v.id in ids:
            v.curtailment_status = "void"
