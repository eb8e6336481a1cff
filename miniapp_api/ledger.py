"""The ledger over HTTP: accounts, balances, statements, transfers, holds, batches, reversals.

Reading: an org sees only its own accounts (another org's is 404); bank staff see every account.
Moving money (transfers, holds, post, void, batches, reversals) is for tellers and admins only.
Money is a decimal string ("1250.00"). Every movement is idempotent twice over: on its
client-chosen ``transfer_id`` (same id and fields: 200 with the original and ``replayed: true``;
other fields: 409 ``transfer_id_reused``) and on the Idempotency-Key header. Service API and
error codes: backend/ledger/__init__.py.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, jsonify
from flask.views import MethodView
from sqlalchemy import select

from backend.ledger import queries, rules, service
from backend.ledger.models import Transfer
from backend.ledger.service import TransferSpec, approvals
from backend.ledger.verify import verify
from backend.platform.errors import BusinessRuleViolation
from backend.platform.permissions import ensure_role
from miniapp_api.common import (
    Money,
    PageArgs,
    StrictSchema,
    Timestamp,
    current_actor,
    db,
    page_schema,
)
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "ledger",
    __name__,
    url_prefix="/api/v1/ledger",
    description="Double-entry ledger: accounts, statements, transfers and holds",
)

MOVERS = ("teller",)  # and admin, who passes every role check
TRANSFER_ID = ma.validate.Regexp(rules.TRANSFER_ID_RE, error="1-64 of A-Za-z0-9._:/@#-")


# --------------------------------------------------------------------------- schemas: out


class LedgerBalanceOut(ma.Schema):
    posted = Money(metadata={"description": "from the account's normal side"})
    pending = Money(metadata={"description": "held (frozen) on the account's side"})
    available = Money(metadata={"description": "posted minus held"})
    debits_posted = Money()
    credits_posted = Money()
    debits_pending = Money()
    credits_pending = Money()
    normal_side = ma.fields.String(metadata={"enum": ["debit", "credit"]})


class _Balance(ma.fields.Nested):
    """The account's balances, computed from it (``queries.balance_of``)."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return queries.balance_of(obj)


class LedgerAccountOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(rules.ACCOUNT_KINDS)})
    owner_org_id = ma.fields.Integer(allow_none=True)
    currency = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["open", "closed"]})
    debits_must_not_exceed_credits = ma.fields.Boolean()
    credits_must_not_exceed_debits = ma.fields.Boolean()
    balance = _Balance(LedgerBalanceOut, dump_only=True)
    created_at = Timestamp()


class LedgerTransferOut(ma.Schema):
    id = ma.fields.Integer()
    transfer_id = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(rules.TRANSFER_KINDS)})
    debit_account_id = ma.fields.Integer()
    credit_account_id = ma.fields.Integer()
    amount = Money()
    currency = ma.fields.String()
    code = ma.fields.String()
    reference = ma.fields.String(allow_none=True)
    hold_transfer_id = ma.fields.String(
        allow_none=True, metadata={"description": "post/void/expiry: the hold it resolves"}
    )
    reversal_of = ma.fields.String(allow_none=True)
    expires_at = Timestamp(allow_none=True)
    batch_id = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    created_by = ma.fields.String()
    replayed = ma.fields.Boolean(
        metadata={"description": "true when this transfer_id had already been applied"}
    )


class LedgerHoldOut(ma.Schema):
    transfer_id = ma.fields.String(attribute="transfer.transfer_id")
    state = ma.fields.String(metadata={"enum": list(rules.HOLD_STATES)})
    amount = Money()
    posted_amount = Money(allow_none=True)
    debit_account_id = ma.fields.Integer()
    credit_account_id = ma.fields.Integer()
    expires_at = Timestamp(allow_none=True)
    created_at = Timestamp()
    resolved_at = Timestamp(allow_none=True)
    resolution_transfer_id = ma.fields.String(attribute="resolution.transfer_id", allow_none=True)


class LedgerStatementLineOut(ma.Schema):
    transfer_id = ma.fields.String(attribute="transfer.transfer_id")
    kind = ma.fields.String(attribute="transfer.kind")
    side = ma.fields.String(metadata={"enum": ["debit", "credit"]})
    counterparty_account_id = ma.fields.Integer()
    amount = Money(attribute="transfer.amount")
    posted_change = Money(metadata={"description": "signed, + raises the balance"})
    pending_change = Money(metadata={"description": "signed change of the held amount"})
    code = ma.fields.String(attribute="transfer.code")
    reference = ma.fields.String(attribute="transfer.reference", allow_none=True)
    created_at = Timestamp(attribute="transfer.created_at")


class LedgerBatchOut(ma.Schema):
    batch_id = ma.fields.String(allow_none=True)
    transfers = ma.fields.List(ma.fields.Nested(LedgerTransferOut))


class LedgerApprovalOut(ma.Schema):
    id = ma.fields.Integer()
    transfer_id = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["single", "pending"]})
    debit_account_id = ma.fields.Integer()
    credit_account_id = ma.fields.Integer()
    amount = Money()
    currency = ma.fields.String()
    code = ma.fields.String()
    reference = ma.fields.String(allow_none=True)
    timeout_s = ma.fields.Integer(allow_none=True)
    expires_at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String(metadata={"enum": ["pending", "approved", "rejected"]})
    maker_username = ma.fields.String()
    checker_username = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)


class LedgerApprovalPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LedgerApprovalOut))
    next_cursor = ma.fields.String(allow_none=True)


class LedgerApprovalDecisionOut(ma.Schema):
    approval = ma.fields.Nested(LedgerApprovalOut)
    transfer = ma.fields.Nested(LedgerTransferOut, allow_none=True)


class LedgerApprovalArgs(PageArgs):
    status = ma.fields.String(
        load_default="pending", validate=ma.validate.OneOf(["pending", "approved", "rejected"])
    )


class LedgerRejectIn(StrictSchema):
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class LedgerVerifyOut(ma.Schema):
    ok = ma.fields.Boolean()
    accounts = ma.fields.Integer()
    transfers = ma.fields.Integer()
    holds = ma.fields.Integer()
    posted_total = ma.fields.String()
    pending_total = ma.fields.String()
    differences = ma.fields.List(ma.fields.Dict())


# --------------------------------------------------------------------------- schemas: in


class LedgerAccountArgs(PageArgs):
    owner_org_id = ma.fields.Integer(load_default=None)
    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(rules.ACCOUNT_KINDS))


class LedgerHoldArgs(PageArgs):
    state = ma.fields.String(load_default=None, validate=ma.validate.OneOf(rules.HOLD_STATES))


class LedgerAccountIn(StrictSchema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(rules.ACCOUNT_KINDS))
    owner_org_id = ma.fields.Integer(load_default=None)
    currency = ma.fields.String(load_default="CNY")
    debits_must_not_exceed_credits = ma.fields.Boolean(load_default=None)
    credits_must_not_exceed_debits = ma.fields.Boolean(load_default=None)


class LedgerTransferIn(StrictSchema):
    transfer_id = ma.fields.String(required=True, validate=TRANSFER_ID)
    debit_account_id = ma.fields.Integer(required=True, strict=True)
    credit_account_id = ma.fields.Integer(required=True, strict=True)
    amount = Money(required=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    currency = ma.fields.String(load_default="CNY")


class LedgerHoldIn(LedgerTransferIn):
    timeout_s = ma.fields.Integer(load_default=None, strict=True)
    expires_at = ma.fields.AwareDateTime(load_default=None)


class LedgerBatchLegIn(LedgerHoldIn):
    kind = ma.fields.String(
        load_default="single", validate=ma.validate.OneOf(["single", "pending"])
    )


class LedgerBatchIn(StrictSchema):
    batch_id = ma.fields.String(load_default=None, validate=TRANSFER_ID)
    transfers = ma.fields.List(
        ma.fields.Nested(LedgerBatchLegIn),
        required=True,
        validate=ma.validate.Length(min=1, max=rules.MAX_BATCH),
    )


class LedgerPostIn(StrictSchema):
    amount = Money(load_default=None, metadata={"description": "omit to post the whole hold"})
    transfer_id = ma.fields.String(load_default=None, validate=TRANSFER_ID)
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class LedgerVoidIn(StrictSchema):
    transfer_id = ma.fields.String(load_default=None, validate=TRANSFER_ID)
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


# --------------------------------------------------------------------------- helpers


def _movers():
    actor = current_actor()
    ensure_role(actor, *MOVERS)
    return actor


def _transfer_out(session, t: Transfer, replayed: bool) -> dict:
    refs = {}
    for key, row_id in (("hold_transfer_id", t.pending_id), ("reversal_of", t.reversal_of_id)):
        refs[key] = (
            session.scalar(select(Transfer.transfer_id).where(Transfer.id == row_id))
            if row_id is not None
            else None
        )
    return {
        "id": t.id,
        "transfer_id": t.transfer_id,
        "kind": t.kind,
        "debit_account_id": t.debit_account_id,
        "credit_account_id": t.credit_account_id,
        "amount": t.amount,
        "currency": t.currency,
        "code": t.code,
        "reference": t.reference,
        "expires_at": t.expires_at,
        "batch_id": t.batch_id,
        "created_at": t.created_at,
        "created_by": t.created_by,
        "replayed": replayed,
        **refs,
    }


def _limits() -> dict[str, object]:
    config = current_app.extensions["finedge"].config
    return {
        "single": config.ledger_transfer_approval_limit,
        "pending": config.ledger_hold_approval_limit,
    }


def _submit(spec: TransferSpec):
    """A transfer or hold: applied at once within its limit (201, or 200 on replay); above it a
    maker-checker request waits for an approver (202 with the request)."""
    session = db()
    done = approvals.submit(session, _movers(), spec, limit=_limits()[spec.kind])
    if done.transfer is not None:
        return _transfer_out(session, done.transfer, done.replayed), 200 if done.replayed else 201
    # another body than the 201's: a response of its own (flask-smorest passes it through)
    response = jsonify(LedgerApprovalOut().dump(done.request))
    response.status_code = 202
    return response


def _within_limits(specs: list[TransferSpec]) -> None:
    limits = _limits()
    for index, spec in enumerate(specs):
        limit = limits.get(spec.kind)
        if limit is not None and rules.validate_amount(spec.amount) > limit:
            raise BusinessRuleViolation(
                f"leg {index} is above the approval limit {limit}: submit it on its own"
                " (POST /ledger/transfers or /ledger/holds) for maker-checker approval",
                code="approval_required",
                details={"index": index, "limit": str(limit)},
            )


def _one(specs: list[TransferSpec]):
    """Run one movement; 201 when it was applied now, 200 when it replays an earlier one."""
    session = db()
    result = service.execute_batch(session, _movers(), specs)
    replayed = result.replayed[0]
    return _transfer_out(session, result.transfers[0], replayed), 200 if replayed else 201


# --------------------------------------------------------------------------- accounts


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(LedgerAccountArgs, location="query")
    @blp.response(200, page_schema(LedgerAccountOut, "LedgerAccountPage"))
    def get(self, args):
        """Accounts the caller may see: bank staff all, others their org's."""
        return queries.list_accounts(
            db(),
            current_actor(),
            owner_org_id=args["owner_org_id"],
            kind=args["kind"],
            limit=args["limit"],
            cursor=args["cursor"],
        )

    @blp.arguments(LedgerAccountIn)
    @blp.response(201, LedgerAccountOut)
    def post(self, data):
        """Open an account (admin). Idempotent on ``code``."""
        actor = current_actor()
        ensure_role(actor, "admin")
        return service.open_account(db(), actor, **data)


@blp.route("/accounts/<int:account_id>")
class AccountDetail(MethodView):
    @blp.response(200, LedgerAccountOut)
    def get(self, account_id):
        """One account with its balances; another org's is 404."""
        return queries.get_account(db(), current_actor(), account_id)


@blp.route("/accounts/<int:account_id>/statement")
class Statement(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(LedgerStatementLineOut, "LedgerStatementPage"))
    def get(self, args, account_id):
        """The account's journal entries, oldest first (cursor pagination)."""
        return queries.statement(
            db(), current_actor(), account_id, limit=args["limit"], cursor=args["cursor"]
        )


@blp.route("/accounts/<int:account_id>/holds")
class AccountHolds(MethodView):
    @blp.arguments(LedgerHoldArgs, location="query")
    @blp.response(200, page_schema(LedgerHoldOut, "LedgerHoldPage"))
    def get(self, args, account_id):
        """Holds on the account (either side), optionally by state."""
        return queries.list_holds(
            db(),
            current_actor(),
            account_id,
            state=args["state"],
            limit=args["limit"],
            cursor=args["cursor"],
        )


# --------------------------------------------------------------------------- movements


@blp.route("/transfers")
class Transfers(MethodView):
    @blp.arguments(LedgerTransferIn)
    @blp.response(201, LedgerTransferOut)
    @blp.alt_response(200, schema=LedgerTransferOut, description="replay of the same transfer_id")
    @blp.alt_response(
        202,
        schema=LedgerApprovalOut,
        description="above FINEDGE_LEDGER_TRANSFER_APPROVAL_LIMIT: waits for an approver",
    )
    def post(self, data):
        """Move money at once (teller, admin). Above the configured limit the transfer waits for
        a second user with approver rights (maker-checker): 202 with the approval request."""
        return _submit(
            TransferSpec.single(
                data["transfer_id"],
                data["debit_account_id"],
                data["credit_account_id"],
                data["amount"],
                data["code"],
                reference=data["reference"],
                currency=data["currency"],
            )
        )


@blp.route("/transfers/<transfer_id>")
class TransferDetail(MethodView):
    @blp.response(200, LedgerTransferOut)
    def get(self, transfer_id):
        """One transfer, visible to whoever may see its debit or credit account."""
        session = db()
        return _transfer_out(
            session, queries.get_transfer(session, current_actor(), transfer_id), False
        )


@blp.route("/transfers/<transfer_id>/reverse")
class Reverse(MethodView):
    @blp.arguments(LedgerVoidIn)
    @blp.response(201, LedgerTransferOut)
    @blp.alt_response(200, schema=LedgerTransferOut, description="replay")
    def post(self, data, transfer_id):
        """Correct a posted transfer by moving its amount back, once (teller, admin)."""
        session = db()
        actor = _movers()
        before = session.scalar(
            select(Transfer.id).where(
                Transfer.transfer_id == (data["transfer_id"] or f"{transfer_id}~reverse")
            )
        )
        t = service.reverse_transfer(
            session,
            actor,
            original_transfer_id=transfer_id,
            transfer_id=data["transfer_id"],
            reference=data["reference"],
        )
        replayed = before is not None
        return _transfer_out(session, t, replayed), 200 if replayed else 201


@blp.route("/holds")
class Holds(MethodView):
    @blp.arguments(LedgerHoldIn)
    @blp.response(201, LedgerTransferOut)
    @blp.alt_response(200, schema=LedgerTransferOut, description="replay of the same transfer_id")
    @blp.alt_response(
        202,
        schema=LedgerApprovalOut,
        description="above FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT: waits for an approver",
    )
    def post(self, data):
        """Freeze an amount: a pending transfer that is later posted, voided or expires. Above
        the configured limit the hold waits for an approver (202, maker-checker); a timeout
        then runs from the approval."""
        return _submit(
            TransferSpec.hold(
                data["transfer_id"],
                data["debit_account_id"],
                data["credit_account_id"],
                data["amount"],
                data["code"],
                reference=data["reference"],
                currency=data["currency"],
                timeout_s=data["timeout_s"],
                expires_at=data["expires_at"],
            )
        )


@blp.route("/holds/<transfer_id>")
class HoldDetail(MethodView):
    @blp.response(200, LedgerHoldOut)
    def get(self, transfer_id):
        """A hold and its state: pending, posted, voided or expired."""
        return queries.get_hold(db(), current_actor(), transfer_id)


@blp.route("/holds/<transfer_id>/post")
class PostHold(MethodView):
    @blp.arguments(LedgerPostIn)
    @blp.response(201, LedgerTransferOut)
    @blp.alt_response(200, schema=LedgerTransferOut, description="replay")
    def post(self, data, transfer_id):
        """Post the hold in full (no amount) or in part; the rest is released."""
        spec = TransferSpec.post(
            transfer_id,
            data["amount"],
            transfer_id=data["transfer_id"],
            reference=data["reference"],
        )
        return _one([spec])


@blp.route("/holds/<transfer_id>/void")
class VoidHold(MethodView):
    @blp.arguments(LedgerVoidIn)
    @blp.response(201, LedgerTransferOut)
    @blp.alt_response(200, schema=LedgerTransferOut, description="replay")
    def post(self, data, transfer_id):
        """Unfreeze: release the whole hold."""
        spec = TransferSpec.void(
            transfer_id, transfer_id=data["transfer_id"], reference=data["reference"]
        )
        return _one([spec])


@blp.route("/batches")
class Batches(MethodView):
    @blp.arguments(LedgerBatchIn)
    @blp.response(201, LedgerBatchOut)
    def post(self, data):
        """Linked transfers and holds that succeed or fail together, applied in order. A leg
        above its approval limit is refused (422 ``approval_required``): submit it alone."""
        session = db()
        specs = [
            TransferSpec(
                leg["transfer_id"],
                leg["kind"],
                leg["debit_account_id"],
                leg["credit_account_id"],
                leg["amount"],
                leg["code"],
                leg["reference"],
                leg["currency"],
                timeout_s=leg["timeout_s"],
                expires_at=leg["expires_at"],
            )
            for leg in data["transfers"]
        ]
        actor = _movers()
        _within_limits(specs)
        result = service.execute_batch(session, actor, specs, batch_id=data["batch_id"])
        transfers = [
            _transfer_out(session, t, r)
            for t, r in zip(result.transfers, result.replayed, strict=True)
        ]
        status = 200 if all(result.replayed) else 201
        return {"batch_id": result.batch_id, "transfers": transfers}, status


@blp.route("/verify")
class Verify(MethodView):
    @blp.response(200, LedgerVerifyOut)
    def get(self):
        """Recompute every balance from the journal (admin)."""
        ensure_role(current_actor(), "admin")
        return verify(db()).to_dict()


@blp.route("/approvals")
class Approvals(MethodView):
    @blp.arguments(LedgerApprovalArgs, location="query")
    @blp.response(200, LedgerApprovalPage)
    def get(self, args):
        """Maker-checker requests (tellers, approvers), by status: pending by default."""
        return approvals.list_requests(db(), current_actor(), **args)


@blp.route("/approvals/<int:request_id>")
class ApprovalDetail(MethodView):
    @blp.response(200, LedgerApprovalOut)
    def get(self, request_id):
        """One maker-checker request."""
        return approvals.get_request(db(), current_actor(), request_id)


@blp.route("/approvals/<int:request_id>/approve")
class ApproveMovement(MethodView):
    @blp.response(200, LedgerApprovalDecisionOut)
    def post(self, request_id):
        """Checker: an approver who is not the maker applies the waiting transfer or hold
        (403 ``maker_checker_violation`` for the maker; 422 ``approval_already_decided``)."""
        session = db()
        request, transfer = approvals.approve(session, current_actor(), request_id)
        return {"approval": request, "transfer": _transfer_out(session, transfer, False)}


@blp.route("/approvals/<int:request_id>/reject")
class RejectMovement(MethodView):
    @blp.arguments(LedgerRejectIn)
    @blp.response(200, LedgerApprovalDecisionOut)
    def post(self, data, request_id):
        """Checker: turn the request down; nothing moves."""
        request = approvals.reject(db(), current_actor(), request_id, note=data["note"])
        return {"approval": request, "transfer": None}
