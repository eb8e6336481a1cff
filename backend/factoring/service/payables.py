"""Payables: registered by the core enterprise (CONFIRMED at once) or by a supplier and then
confirmed by the core enterprise; a confirmed part split and transferred by its holder to its
own supplier (the "3.0" chain: the new part has its own id and holder and carries the
confirmation; the parent keeps the rest)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.factoring import access, rules
from backend.factoring.models import Agreement, Payable, Supplier
from backend.factoring.service.agreements import admit_tier2, enterprise_org, find_supplier
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.money import parse_money

MAX_TERM_DAYS = 366


def active_agreement(session: Session, core_org_id: int) -> Agreement | None:
    return session.scalar(
        select(Agreement)
        .where(Agreement.core_org_id == core_org_id, Agreement.status == "active")
        .order_by(Agreement.id.desc())
        .limit(1)
    )


def _check_dates(issue_date: date, maturity_date: date) -> None:
    if not isinstance(issue_date, date) or not isinstance(maturity_date, date):
        raise ValidationFailed("dates are YYYY-MM-DD", details={"maturity_date": ["a date"]})
    if maturity_date <= issue_date:
        raise ValidationFailed(
            "maturity_date must be after issue_date",
            code="invalid_maturity",
            details={"maturity_date": ["after issue_date"]},
        )
    if maturity_date - issue_date > timedelta(days=MAX_TERM_DAYS):
        raise ValidationFailed(
            f"a payable runs at most {MAX_TERM_DAYS} days",
            code="invalid_maturity",
            details={"maturity_date": [f"at most {MAX_TERM_DAYS} days after issue_date"]},
        )


def register_payable(
    session: Session,
    actor: Actor,
    *,
    invoice_no: str,
    amount: Decimal | str,
    issue_date: date,
    maturity_date: date,
    creditor_org_id: int | None = None,
    debtor_org_id: int | None = None,
    now: datetime | None = None,
) -> Payable:
    """The core enterprise registers what it owes a supplier (``creditor_org_id``): CONFIRMED.
    A supplier registers what its core enterprise (``debtor_org_id``) owes it: REGISTERED."""
    now = now or utcnow()
    if actor.role != "enterprise" or actor.org_id is None:
        raise PermissionDenied("only an enterprise registers payables", code="not_an_enterprise")
    value = parse_money(amount, field="amount", positive=True)
    _check_dates(issue_date, maturity_date)
    own = active_agreement(session, actor.org_id)
    if own is not None:  # the caller is a core enterprise
        if creditor_org_id is None:
            raise ValidationFailed(
                "creditor_id (the supplier) is required",
                details={"creditor_id": ["required"]},
            )
        agreement, debtor, creditor, by = own, actor.org_id, creditor_org_id, "core"
        status = "CONFIRMED"
    else:
        if debtor_org_id is None:
            raise ValidationFailed(
                "debtor_id (the core enterprise) is required", details={"debtor_id": ["required"]}
            )
        agreement = active_agreement(session, debtor_org_id)
        if agreement is None:
            raise NotFound("core enterprise not found", code="core_enterprise_not_found")
        debtor, creditor, by, status = debtor_org_id, actor.org_id, "supplier", "REGISTERED"
    if find_supplier(session, agreement.id, creditor) is None:
        # a supplier outside the chain: to the core it is unknown, to itself not admitted
        raise BusinessRuleViolation(
            "the supplier is not admitted to the core enterprise's chain",
            code="supplier_not_admitted",
        )
    item = {
        "invoice_no": invoice_no,
        "amount": value,
        "issue_date": issue_date,
        "maturity_date": maturity_date,
        "creditor_org_id": creditor,
    }
    key = rules.invoice_key(debtor, invoice_no)
    return _insert_root(session, actor, new_root(agreement.id, key, item, debtor, by, status, now))


def _insert_root(session: Session, actor: Actor, payable: Payable) -> Payable:
    key = payable.invoice_key
    taken = session.scalar(
        select(Payable.id).where(Payable.invoice_key == key, Payable.part_no == 0)
    )
    if taken is not None:
        raise Conflict("this invoice is already registered", code="invoice_already_registered")
    try:
        with session.begin_nested():
            session.add(payable)
            session.flush()
    except IntegrityError:  # registered concurrently
        raise Conflict(
            "this invoice is already registered", code="invoice_already_registered"
        ) from None
    payable.root_id = payable.id
    audit.record(
        session,
        actor,
        "factoring.payable_registered",
        "fct_payable",
        payable.id,
        after=_registered(payable),
    )
    return payable


def _registered(p: Payable) -> dict:
    return {
        "invoice_no": p.invoice_no,
        "amount": p.amount,
        "status": p.status,
        "by": p.registered_by,
    }


def new_root(
    agreement_id: int, key: str, item: dict, debtor: int, by: str, status: str, now: datetime
) -> Payable:
    """Part 0 of an invoice; ``item``: invoice_no, amount (parsed), issue_date, maturity_date,
    creditor_org_id."""
    return Payable(
        agreement_id=agreement_id,
        invoice_no=item["invoice_no"].strip(),
        invoice_key=key,
        part_no=0,
        next_part_no=1,
        debtor_org_id=debtor,
        creditor_org_id=item["creditor_org_id"],
        holder_org_id=item["creditor_org_id"],
        invoice_amount=item["amount"],
        amount=item["amount"],
        issue_date=item["issue_date"],
        maturity_date=item["maturity_date"],
        status=status,
        registered_by=by,
        confirmed_at=now if status == "CONFIRMED" else None,
        overdue_reported_days=0,
        created_at=now,
        updated_at=now,
    )


def confirm_payable(
    session: Session, actor: Actor, payable_id: int, *, now: datetime | None = None
) -> Payable:
    """The core enterprise confirms a payable its supplier registered."""
    now = now or utcnow()
    payable = access.get_payable(session, actor, payable_id, lock=True)
    access.ensure_org_user(actor, payable.debtor_org_id, "debtor")
    before = payable.status
    payable.status = rules.move(payable.status, "CONFIRMED")
    payable.confirmed_at = payable.updated_at = now
    audit.record(
        session,
        actor,
        "factoring.payable_confirmed",
        "fct_payable",
        payable.id,
        before={"status": before},
        after={"status": payable.status},
    )
    return payable


def transfer_part(
    session: Session,
    actor: Actor,
    payable_id: int,
    *,
    to_org_id: int,
    amount: Decimal | str,
    now: datetime | None = None,
) -> Payable:
    """The holder passes ``amount`` of a confirmed part to its own supplier: the whole part
    changes holder, or a new part (child) is split off and the parent keeps the rest. Returns
    the part the receiver now holds."""
    now = now or utcnow()
    value = parse_money(amount, field="amount", positive=True)
    payable = access.get_payable(session, actor, payable_id)
    access.ensure_org_user(actor, payable.holder_org_id, "holder")
    receiver = enterprise_org(session, to_org_id, "supplier")
    if receiver.id in (payable.holder_org_id, payable.debtor_org_id):
        raise BusinessRuleViolation(
            "a part is transferred to another supplier", code="invalid_receiver"
        )
    # the root first (it numbers the parts), then the part: the one lock order of splits
    root = session.get(Payable, payable.root_id, with_for_update=True, populate_existing=True)
    payable = access.get_payable(session, actor, payable_id, lock=True)
    if payable.status != "CONFIRMED":
        raise Conflict(
            f"a {payable.status} payable cannot be split or transferred",
            code="illegal_transition",
            details={"status": payable.status, "to": "TRANSFERRED"},
        )
    if payable.maturity_date <= now.date():
        raise BusinessRuleViolation("the payable has matured", code="payable_matured")
    if value > payable.amount:
        raise BusinessRuleViolation(
            "a part cannot be more than what is held",
            code="exceeds_held_amount",
            details={"held": str(payable.amount), "requested": str(value)},
        )
    transferor = find_supplier(session, payable.agreement_id, payable.holder_org_id)
    limit = transferor.counterparty_limit if transferor else Decimal("0.01")
    admit_tier2(session, actor, payable.agreement_id, receiver, limit, payable.id, now)
    before = {"holder_org_id": payable.holder_org_id, "amount": payable.amount}
    if value == payable.amount:
        payable.transferred_from_org_id = payable.holder_org_id
        payable.holder_org_id = receiver.id
        payable.updated_at = now
        part = payable
    else:
        part = Payable(
            agreement_id=payable.agreement_id,
            invoice_no=payable.invoice_no,
            invoice_key=payable.invoice_key,
            part_no=root.next_part_no,
            next_part_no=0,
            root_id=root.id,
            parent_id=payable.id,
            debtor_org_id=payable.debtor_org_id,
            creditor_org_id=payable.creditor_org_id,
            holder_org_id=receiver.id,
            transferred_from_org_id=payable.holder_org_id,
            invoice_amount=payable.invoice_amount,
            amount=value,
            issue_date=payable.issue_date,
            maturity_date=payable.maturity_date,
            status="CONFIRMED",
            registered_by=payable.registered_by,
            confirmed_at=payable.confirmed_at,
            overdue_reported_days=0,
            created_at=now,
            updated_at=now,
        )
        root.next_part_no += 1
        payable.amount -= value
        payable.updated_at = now
        session.add(part)
        session.flush()
    audit.record(
        session,
        actor,
        "factoring.payable_transferred",
        "fct_payable",
        payable.id,
        before=before,
        after={
            "part_id": part.id,
            "part_no": part.part_no,
            "to_org_id": receiver.id,
            "amount": value,
            "kept": payable.amount if part is not payable else Decimal("0.00"),
        },
    )
    return part


def register_many(
    session: Session, actor: Actor, items: list[dict], *, now: datetime | None = None
) -> list[Payable]:
    """The core enterprise registers a batch of payables at once (CONFIRMED): each item has
    invoice_no, creditor_org_id, amount, issue_date, maturity_date. All or nothing; one read of
    the registered invoices, one flush, one audit insert."""
    now = now or utcnow()
    if actor.role != "enterprise" or actor.org_id is None:
        raise PermissionDenied("only an enterprise registers payables", code="not_an_enterprise")
    agreement = active_agreement(session, actor.org_id)
    if agreement is None:
        raise BusinessRuleViolation("no active agreement", code="no_agreement")
    admitted = set(
        session.scalars(select(Supplier.org_id).where(Supplier.agreement_id == agreement.id))
    )
    rows, keys = [], set()
    for item in items:
        value = parse_money(item["amount"], field="amount", positive=True)
        _check_dates(item["issue_date"], item["maturity_date"])
        if item["creditor_org_id"] not in admitted:
            raise BusinessRuleViolation(
                "the supplier is not admitted to the core enterprise's chain",
                code="supplier_not_admitted",
            )
        key = rules.invoice_key(actor.org_id, item["invoice_no"])
        if key in keys:
            raise Conflict("an invoice twice in one batch", code="invoice_already_registered")
        keys.add(key)
        rows.append(
            new_root(
                agreement.id, key, {**item, "amount": value}, actor.org_id, "core", "CONFIRMED", now
            )
        )
    taken = session.scalars(
        select(Payable.invoice_key).where(Payable.invoice_key.in_(keys), Payable.part_no == 0)
    ).first()
    if taken is not None:
        raise Conflict(
            "this invoice is already registered",
            code="invoice_already_registered",
            details={"invoice_key": taken},
        )
    session.add_all(rows)
    session.flush()
    for p in rows:
        p.root_id = p.id
    audit.record_all(
        session,
        actor,
        [("factoring.payable_registered", "fct_payable", p.id, None, _registered(p)) for p in rows],
    )
    return rows
