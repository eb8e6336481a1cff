"""Programmes, yards and dealer credit lines (maker-checker).

An OEM programme sets the default terms (margin ratio, curtailment, aging thresholds,
release-before-repay deadline). A relationship manager proposes a line for a dealer (or new
terms for an existing one); an approver who is not the maker approves or rejects it. Approval
opens the dealer's ledger accounts on first use.

``used_amount`` is the financed balance not yet repaid; ``draw`` and ``repay`` change it on a
line locked by ``lock_line`` in the caller's transaction, so the limit holds under concurrency.
Listing and reading programmes, yards, lines and requests is in ``backend.floorplan.queries``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.floorplan import accounts, rules
from backend.floorplan.models import CreditLine, CreditLineRequest, Programme, Warehouse
from backend.identity.models import Org
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
from backend.platform.permissions import ensure_role

ZERO = Decimal("0.00")


def _org(session: Session, org_id: int, kind: str) -> Org:
    org = session.get(Org, org_id)
    if org is None or org.kind != kind:
        raise NotFound(f"{kind} org {org_id} not found", code=f"{kind}_not_found")
    return org


def _int_in(value: int, low: int, high: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(
            f"{field} must be a whole number from {low} to {high}",
            code="invalid_value",
            details={field: [f"integer {low}..{high}"]},
        )
    return value


# --------------------------------------------------------------------------- programmes


def create_programme(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    oem_org_id: int,
    margin_ratio: str = "0.30",
    curtailment_days: int = 90,
    curtailment_ratio: str = "0.10",
    curtailment_grace_days: int = 10,
    aging_days: list[int] | tuple[int, ...] = (90, 120, 180),
    rbr_days: int = 7,
    now: datetime | None = None,
) -> Programme:
    ensure_role(actor, "admin")
    oem = _org(session, oem_org_id, "oem")
    if session.scalar(select(Programme.id).where(Programme.code == code)) is not None:
        raise Conflict(f"programme {code!r} exists", code="programme_code_taken")
    thresholds = sorted({_int_in(d, 1, 3650, "aging_days") for d in aging_days})
    if not thresholds:
        raise ValidationFailed("aging_days needs at least one threshold", code="invalid_value")
    programme = Programme(
        code=code,
        name=name,
        oem_org_id=oem.id,
        margin_ratio_bp=rules.ratio_to_bp(margin_ratio, "margin_ratio"),
        curtailment_days=_int_in(curtailment_days, 1, 3650, "curtailment_days"),
        curtailment_ratio_bp=rules.ratio_to_bp(curtailment_ratio, "curtailment_ratio"),
        curtailment_grace_days=_int_in(curtailment_grace_days, 0, 365, "curtailment_grace_days"),
        aging_days=thresholds,
        rbr_days=_int_in(rbr_days, 1, 90, "rbr_days"),
        oem_account_id=accounts.open_oem_account(session, actor, oem.id, oem.name).id,
        status="active",
        created_at=now or utcnow(),
    )
    session.add(programme)
    session.flush()
    audit.record(
        session,
        actor,
        "floorplan.programme_created",
        "fp_programme",
        programme.id,
        after={"code": code, "oem_org_id": oem.id, "margin_ratio_bp": programme.margin_ratio_bp},
    )
    return programme


def programme_for_oem(session: Session, oem_org_id: int | None) -> Programme:
    programme = session.scalar(
        select(Programme)
        .where(Programme.oem_org_id == oem_org_id, Programme.status == "active")
        .order_by(Programme.id)
        .limit(1)
    )
    if programme is None:
        raise BusinessRuleViolation(
            "the dealer's OEM has no active floor-plan programme", code="no_programme"
        )
    return programme


# --------------------------------------------------------------------------- yards


def create_warehouse(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    dealer_org_id: int,
    supervisor_org_id: int,
    address: str | None = None,
    now: datetime | None = None,
) -> Warehouse:
    ensure_role(actor, "admin", "rm")
    _org(session, dealer_org_id, "dealer")
    _org(session, supervisor_org_id, "supervisor")
    if session.scalar(select(Warehouse.id).where(Warehouse.code == code)) is not None:
        raise Conflict(f"warehouse {code!r} exists", code="warehouse_code_taken")
    warehouse = Warehouse(
        code=code,
        name=name,
        dealer_org_id=dealer_org_id,
        supervisor_org_id=supervisor_org_id,
        address=address,
        created_at=now or utcnow(),
    )
    session.add(warehouse)
    session.flush()
    audit.record(
        session,
        actor,
        "floorplan.warehouse_created",
        "fp_warehouse",
        warehouse.id,
        after={"code": code, "dealer": dealer_org_id, "supervisor": supervisor_org_id},
    )
    return warehouse


# --------------------------------------------------------------------------- credit lines


def propose_credit_line(
    session: Session,
    actor: Actor,
    *,
    dealer_org_id: int,
    limit: Decimal | str,
    margin_ratio: str | None = None,
    trusted: bool = False,
    rbr_limit: Decimal | str = "0.00",
    rbr_days: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> CreditLineRequest:
    """Maker: a relationship manager proposes a new line or new terms."""
    ensure_role(actor, "rm")
    dealer = _org(session, dealer_org_id, "dealer")
    programme = programme_for_oem(session, dealer.parent_id)
    limit_amount = parse_money(limit, field="limit", positive=True)
    rbr = parse_money(rbr_limit, field="rbr_limit")
    if rbr < 0 or rbr > limit_amount:
        raise ValidationFailed(
            "rbr_limit must be between 0 and the limit",
            code="invalid_amount",
            details={"rbr_limit": ["between 0 and limit"]},
        )
    if trusted is False and rbr > 0:
        raise ValidationFailed(
            "only a trusted dealer gets a release-before-repay limit",
            code="invalid_value",
            details={"rbr_limit": ["0 unless trusted"]},
        )
    pending = session.scalar(
        select(CreditLineRequest.id).where(
            CreditLineRequest.dealer_org_id == dealer.id, CreditLineRequest.status == "pending"
        )
    )
    if pending is not None:
        raise Conflict(
            "the dealer already has a credit line request waiting for approval",
            code="credit_line_request_pending",
            details={"request_id": pending},
        )
    line = session.scalar(select(CreditLine).where(CreditLine.dealer_org_id == dealer.id))
    request = CreditLineRequest(
        dealer_org_id=dealer.id,
        programme_id=programme.id,
        credit_line_id=line.id if line else None,
        limit_amount=limit_amount,
        margin_ratio_bp=(
            rules.ratio_to_bp(margin_ratio, "margin_ratio")
            if margin_ratio is not None
            else programme.margin_ratio_bp
        ),
        trusted=bool(trusted),
        rbr_limit=rbr,
        rbr_days=_int_in(
            rbr_days if rbr_days is not None else programme.rbr_days, 1, 90, "rbr_days"
        ),
        status="pending",
        note=note,
        maker_user_id=actor.user_id,
        maker_username=actor.username,
        created_at=now or utcnow(),
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor,
        "floorplan.credit_line_proposed",
        "fp_credit_line_request",
        request.id,
        after=_terms(request),
    )
    return request


def _terms(obj) -> dict:
    return {
        "dealer_org_id": obj.dealer_org_id,
        "limit": obj.limit_amount,
        "margin_ratio_bp": obj.margin_ratio_bp,
        "trusted": obj.trusted,
        "rbr_limit": obj.rbr_limit,
        "rbr_days": obj.rbr_days,
    }


def _locked_request(session: Session, request_id: int) -> CreditLineRequest:
    request = session.get(
        CreditLineRequest, request_id, with_for_update=True, populate_existing=True
    )
    if request is None:
        raise NotFound("credit line request not found", code="credit_line_request_not_found")
    if request.status != "pending":
        raise Conflict(
            f"the request is already {request.status}", code="credit_line_request_decided"
        )
    return request


def approve_credit_line(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> CreditLine:
    """Checker: an approver other than the maker applies the proposed terms."""
    ensure_role(actor, "approver")
    now = now or utcnow()
    request = _locked_request(session, request_id)
    if actor.user_id is not None and actor.user_id == request.maker_user_id:
        raise PermissionDenied(
            "maker-checker: the maker of a request cannot approve it",
            code="maker_checker_violation",
        )
    programme = session.get(Programme, request.programme_id)
    line = session.scalar(
        select(CreditLine)
        .where(CreditLine.dealer_org_id == request.dealer_org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    before = _terms(line) if line else None
    if line is None:
        dealer = session.get(Org, request.dealer_org_id)
        acc = accounts.open_dealer_accounts(session, actor, dealer.id, dealer.name, now)
        line = CreditLine(
            dealer_org_id=dealer.id,
            oem_org_id=programme.oem_org_id,
            programme_id=programme.id,
            used_amount=ZERO,
            rbr_used=ZERO,
            status="active",
            deposit_account_id=acc.deposit,
            margin_account_id=acc.margin,
            advance_account_id=acc.advance,
            created_at=now,
            version=0,
        )
        session.add(line)
    else:
        if request.limit_amount < line.used_amount:
            raise BusinessRuleViolation(
                "the new limit is below the financed balance in use",
                code="limit_below_used",
                details={"used": str(line.used_amount)},
            )
        if request.rbr_limit < line.rbr_used:
            raise BusinessRuleViolation(
                "the new release-before-repay limit is below what is in use",
                code="limit_below_used",
                details={"rbr_used": str(line.rbr_used)},
            )
    line.limit_amount = request.limit_amount
    line.margin_ratio_bp = request.margin_ratio_bp
    line.trusted = request.trusted
    line.rbr_limit = request.rbr_limit
    line.rbr_days = request.rbr_days
    line.updated_at = now
    line.version = (line.version or 0) + 1
    session.flush()
    request.status = "approved"
    request.credit_line_id = line.id
    request.checker_user_id = actor.user_id
    request.checker_username = actor.username
    request.decision_note = note
    request.decided_at = now
    audit.record(
        session,
        actor,
        "floorplan.credit_line_approved",
        "fp_credit_line",
        line.id,
        before=before,
        after={**_terms(line), "request_id": request.id, "maker": request.maker_username},
    )
    return line


def reject_credit_line(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> CreditLineRequest:
    ensure_role(actor, "approver")
    request = _locked_request(session, request_id)
    request.status = "rejected"
    request.checker_user_id = actor.user_id
    request.checker_username = actor.username
    request.decision_note = note
    request.decided_at = now or utcnow()
    audit.record(
        session,
        actor,
        "floorplan.credit_line_rejected",
        "fp_credit_line_request",
        request.id,
        before={"status": "pending"},
        after={"status": "rejected", "note": note},
    )
    return request


def set_line_status(
    session: Session, actor: Actor, line_id: int, status: str, *, note: str | None = None
) -> CreditLine:
    """Suspend (no new draws) or reactivate a line; redemptions always go on."""
    ensure_role(actor, "approver")
    rules.validate_choice(status, ("active", "suspended"), "status", "invalid_status")
    line = session.get(CreditLine, line_id, with_for_update=True, populate_existing=True)
    if line is None:
        raise NotFound("credit line not found", code="credit_line_not_found")
    if line.status != status:
        before = line.status
        line.status = status
        line.updated_at = utcnow()
        line.version += 1
        audit.record(
            session,
            actor,
            f"floorplan.credit_line_{'suspended' if status == 'suspended' else 'reactivated'}",
            "fp_credit_line",
            line.id,
            before={"status": before},
            after={"status": status, "note": note},
        )
    return line


# --------------------------------------------------------------------------- draws


def lock_line(session: Session, dealer_org_id: int) -> CreditLine:
    """The dealer's line, locked: every money step of a dealer takes this lock first."""
    line = session.scalar(
        select(CreditLine)
        .where(CreditLine.dealer_org_id == dealer_org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if line is None:
        raise BusinessRuleViolation("the dealer has no credit line", code="no_credit_line")
    return line


def available(line: CreditLine) -> Decimal:
    return line.limit_amount - line.used_amount


def draw(line: CreditLine, amount: Decimal) -> None:
    if line.status != "active":
        raise BusinessRuleViolation("the credit line is suspended", code="credit_line_suspended")
    if amount > available(line):
        raise BusinessRuleViolation(
            "the amount exceeds the available credit line",
            code="credit_line_exceeded",
            details={"available": str(available(line)), "requested": str(amount)},
        )
    line.used_amount += amount
    line.version += 1


def repay(line: CreditLine, amount: Decimal) -> None:
    line.used_amount -= amount
    if line.used_amount < 0:
        raise AssertionError(f"credit line {line.id} used amount went negative")
    line.version += 1
