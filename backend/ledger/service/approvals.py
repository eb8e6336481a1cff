"""Maker-checker for large movements: a transfer or a hold above its limit waits for a second user.

    submit(session, actor, spec, limit=)       the maker (a teller): at most ``limit`` the movement
                                                 is applied at once (-> Submitted.transfer); above
                                                 it an ApprovalRequest is stored (-> .request)
    approve(session, actor, request_id)         the checker: a user with approver rights who is not
                                                 the maker; the movement is applied now, under the
                                                 maker's ``transfer_id``
    reject(session, actor, request_id, note=)   the checker turns it down; nothing moves

Idempotent like every movement: the request is keyed by the client's ``transfer_id``; asking
again with the same fields returns the same request (or, once approved, the transfer), with other
fields 409 ``transfer_id_reused``. Each step writes one audit record
(``ledger.approval_requested``, ``ledger.approval_approved`` with the transfer's own
``ledger.transfer``/``ledger.hold`` record, ``ledger.approval_rejected``). Limits come from the
configuration (FINEDGE_LEDGER_TRANSFER_APPROVAL_LIMIT, FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT).

Errors: 403 maker_checker_violation (the maker approves their own), 403 forbidden (no approver
rights), 404 approval_not_found, 409 transfer_id_reused, 422 approval_already_decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.ledger.models import ApprovalRequest, Transfer
from backend.ledger.service.batch import execute_batch
from backend.ledger.service.legs import TransferSpec, validated
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, PermissionDenied
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role

APPROVER_ROLES = ("approver",)  # and admin, who passes every role check
FIELDS = (
    "kind",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency",
    "code",
    "reference",
    "timeout_s",
    "expires_at",
)


@dataclass
class Submitted:
    transfer: Transfer | None = None  # applied (now, or earlier: ``replayed``)
    replayed: bool = False
    request: ApprovalRequest | None = None  # waiting for a checker (or decided earlier)


def _fields(spec: TransferSpec) -> dict:
    leg = validated(spec, 0)
    if leg.kind not in ("single", "pending"):
        raise ValueError("only transfers and holds go through maker-checker")
    return {name: getattr(leg, name) for name in FIELDS}


def submit(session: Session, actor: Actor, spec: TransferSpec, *, limit: Decimal) -> Submitted:
    """Apply ``spec`` (a single transfer or a hold) at once when within ``limit``, else store it
    for a checker. A stored transfer or request with this id is returned, not made twice."""
    wanted = _fields(spec)
    existing = session.scalar(
        select(ApprovalRequest).where(ApprovalRequest.transfer_id == spec.transfer_id)
    )
    if existing is None and wanted["amount"] <= limit:
        result = execute_batch(session, actor, [spec])
        return Submitted(transfer=result.transfers[0], replayed=result.replayed[0])
    if existing is not None:
        differing = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
        if differing:
            raise Conflict(
                f"transfer_id {spec.transfer_id!r} was used for another request",
                code="transfer_id_reused",
                details={"transfer_id": spec.transfer_id, "fields": differing},
            )
        transfer = _transfer(session, existing.transfer_id)
        return Submitted(transfer=transfer, replayed=transfer is not None, request=existing)
    if _transfer(session, spec.transfer_id) is not None:
        # already in the journal (applied below the limit earlier): the journal decides
        result = execute_batch(session, actor, [spec])
        return Submitted(transfer=result.transfers[0], replayed=result.replayed[0])
    request = ApprovalRequest(
        transfer_id=spec.transfer_id,
        status="pending",
        maker_user_id=actor.user_id,
        maker_username=actor.username,
        created_at=utcnow(),
        **wanted,
    )
    with session.begin_nested():
        session.add(request)
        session.flush()
        audit.record(
            session,
            actor,
            "ledger.approval_requested",
            "ledger_approval",
            request.id,
            after={**_summary(request), "limit": str(limit)},
        )
    return Submitted(request=request)


def approve(
    session: Session, actor: Actor, request_id: int, *, now: datetime | None = None
) -> tuple[ApprovalRequest, Transfer]:
    """The checker applies the waiting movement; the maker cannot approve their own."""
    request = _decidable(session, actor, request_id)
    spec = _spec(request)
    result = execute_batch(session, actor, [spec], now=now)
    request.status = "approved"
    request.checker_user_id, request.checker_username = actor.user_id, actor.username
    request.decided_at = now or utcnow()
    audit.record(
        session,
        actor,
        "ledger.approval_approved",
        "ledger_approval",
        request.id,
        before={"status": "pending"},
        after={**_summary(request), "maker": request.maker_username},
    )
    session.flush()
    return request, result.transfers[0]


def reject(
    session: Session, actor: Actor, request_id: int, *, note: str | None = None
) -> ApprovalRequest:
    request = _decidable(session, actor, request_id)
    request.status = "rejected"
    request.checker_user_id, request.checker_username = actor.user_id, actor.username
    request.note = note[:200] if note else None
    request.decided_at = utcnow()
    audit.record(
        session,
        actor,
        "ledger.approval_rejected",
        "ledger_approval",
        request.id,
        before={"status": "pending"},
        after={**_summary(request), "maker": request.maker_username, "note": request.note},
    )
    session.flush()
    return request


def get_request(session: Session, actor: Actor, request_id: int) -> ApprovalRequest:
    ensure_role(actor, "teller", *APPROVER_ROLES)
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise NotFound(f"approval request {request_id} not found", code="approval_not_found")
    return request


def list_requests(
    session: Session,
    actor: Actor,
    *,
    status: str | None = "pending",
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Oldest first, a cursor page (``{items, next_cursor}``)."""
    ensure_role(actor, "teller", *APPROVER_ROLES)
    stmt = select(ApprovalRequest)
    if status is not None:
        stmt = stmt.where(ApprovalRequest.status == status)
    return paginate(session, stmt, ApprovalRequest.id, limit=limit, cursor=cursor)


def _decidable(session: Session, actor: Actor, request_id: int) -> ApprovalRequest:
    ensure_role(actor, *APPROVER_ROLES)
    request = session.scalar(
        select(ApprovalRequest)
        .where(ApprovalRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound(f"approval request {request_id} not found", code="approval_not_found")
    if actor.user_id is None or actor.user_id == request.maker_user_id:
        raise PermissionDenied(
            "maker-checker: the maker of a request cannot approve or reject it",
            code="maker_checker_violation",
        )
    if request.status != "pending":
        raise BusinessRuleViolation(
            f"approval request {request_id} is already {request.status}",
            code="approval_already_decided",
            details={"status": request.status},
        )
    return request


def _spec(request: ApprovalRequest) -> TransferSpec:
    common = {"reference": request.reference, "currency": request.currency}
    args = (
        request.transfer_id,
        request.debit_account_id,
        request.credit_account_id,
        request.amount,
        request.code,
    )
    if request.kind == "pending":
        return TransferSpec.hold(
            *args, timeout_s=request.timeout_s, expires_at=request.expires_at, **common
        )
    return TransferSpec.single(*args, **common)


def _transfer(session: Session, transfer_id: str) -> Transfer | None:
    return session.scalar(select(Transfer).where(Transfer.transfer_id == transfer_id))


def _summary(request: ApprovalRequest) -> dict:
    return {
        "transfer_id": request.transfer_id,
        "kind": request.kind,
        "debit_account_id": request.debit_account_id,
        "credit_account_id": request.credit_account_id,
        "amount": str(request.amount),
        "code": request.code,
        "status": request.status,
    }
