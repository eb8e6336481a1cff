"""The commodity clearing service (清算通) over HTTP.

Two edges:

- the clearing house's, signed with its HMAC secret (``backend/clearing/signing.py``), no user
  token: ``POST /instructions`` (one instruction, or ``{"instructions": [...]}`` answered per
  instruction) and ``POST /reconciliation-files`` (the day's reconciliation CSV);
- the bank's and the traders', with a Bearer token: clearing houses, agreements and trader
  accounts (bank staff set them up), balances, orders and instructions (a trader sees its own:
  anything else is 404), gaps, gap alarms, reconciliations and differences (bank staff only).
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, g, jsonify, request
from flask.views import MethodView

from backend.clearing import queries, service
from backend.clearing.models import ClearingHouse
from backend.clearing.rules import KINDS
from backend.clearing.secretbox import SecretBox
from backend.platform.errors import ValidationFailed
from miniapp_api.common import (
    API_PREFIX,
    Money,
    PageArgs,
    StrictSchema,
    Timestamp,
    current_actor,
    db,
    page_schema,
)
from miniapp_api.errors import ErrorSchema, error_response
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "clearing",
    __name__,
    url_prefix="/api/v1/clearing",
    description="Commodity clearing: signed instructions of clearing houses, traders' accounts, "
    "holds, reconciliation",
)
SIGNED_PATHS = (
    f"{API_PREFIX}/clearing/instructions",
    f"{API_PREFIX}/clearing/reconciliation-files",
)
SIGNED_401 = (
    "Not signed by a known clearing house: signature_required, unknown_clearing_house, "
    "stale_timestamp, bad_nonce, bad_signature, nonce_reused"
)
CSV_LIMIT = 8_000_000


def _box() -> SecretBox:
    return SecretBox(current_app.extensions["finedge"].config.secret_key)


@blp.before_request
def _signed_requests():
    """The clearing house's endpoints: the signature is checked (and its nonce recorded, in a
    transaction of its own) before the body is read."""
    if request.path not in SIGNED_PATHS or request.method != "POST":
        return None
    factory = current_app.extensions["finedge"].session_factory
    with factory() as session:
        try:
            house = service.authenticate(
                session,
                _box(),
                house_code=request.headers.get("X-Clearing-House"),
                timestamp=request.headers.get("X-Timestamp"),
                nonce=request.headers.get("X-Nonce"),
                signature=request.headers.get("X-Signature"),
                method=request.method,
                path=request.path,
                body=request.get_data(cache=True),
            )
        except Exception:
            session.rollback()
            raise
        g.clearing_house_id = house.id
        session.commit()
    return None


def _json(document: dict, status: int):
    response = jsonify(document)
    response.status_code = status
    return response


def _house() -> ClearingHouse:
    return db().get(ClearingHouse, g.clearing_house_id)


# --------------------------------------------------------------------------- schemas


def _doc(kind: str, text: str) -> dict:
    return {"type": kind, "description": text}


def _money_doc(text: str) -> dict:
    return {**Money.DOC, "description": text}


class ClearingInstructionIn(ma.Schema):
    """Documents the body; the instruction's rules (backend/clearing/rules.py) check it, so
    that each instruction of a batch is answered on its own."""

    class Meta:
        unknown = ma.INCLUDE

    id = ma.fields.Raw(metadata=_doc("string", "the instruction's id (idempotency)"))
    account = ma.fields.Raw(metadata=_doc("string", "the trader account number"))
    seq = ma.fields.Raw(metadata=_doc("integer", "1, 2, 3 ... per account"))
    kind = ma.fields.Raw(metadata=_doc("string", " | ".join(KINDS)))
    order = ma.fields.Raw(metadata=_doc("string", "the order reference"))
    amount = ma.fields.Raw(metadata=_money_doc("decimal string, two places"))
    fee = ma.fields.Raw(metadata=_money_doc("the bank's fee"))
    clearing_fee = ma.fields.Raw(metadata=_money_doc("delivery: the clearing house's fee"))
    counterparty = ma.fields.Raw(metadata=_doc("string", "delivery: the seller's account"))
    trade_date = ma.fields.Raw(metadata=_doc("string", "YYYY-MM-DD (default: today)"))
    instructions = ma.fields.Raw(
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "a batch: 1-500 instructions of the fields above",
        }
    )


class ClearingAnswerOut(ma.Schema):
    id = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "applied | pending | rejected | refused"})
    http_status = ma.fields.Integer()
    seq = ma.fields.Integer(allow_none=True)
    account = ma.fields.String(allow_none=True)
    code = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()
    applied_after = ma.fields.List(ma.fields.String())
    replayed = ma.fields.Boolean()


class ClearingBatchOut(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(ClearingAnswerOut))


class ClearingReconciliationFileIn(StrictSchema):
    business_date = ma.fields.Date(required=True)
    csv = ma.fields.String(required=True, validate=ma.validate.Length(max=CSV_LIMIT))
    filename = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class ClearingStaffReconciliationIn(ClearingReconciliationFileIn):
    house_id = ma.fields.Integer(required=True)


class ClearingReconciliationOut(ma.Schema):
    id = ma.fields.Integer()
    clearing_house_id = ma.fields.Integer()
    business_date = ma.fields.Date()
    source = ma.fields.String()
    filename = ma.fields.String(allow_none=True)
    rows = ma.fields.Integer()
    differences = ma.fields.Integer()
    status = ma.fields.String()
    created_at = Timestamp()


class ClearingDifferenceOut(ma.Schema):
    id = ma.fields.Integer()
    reconciliation_id = ma.fields.Integer()
    account_id = ma.fields.Integer(allow_none=True)
    trader_org_id = ma.fields.Integer(allow_none=True)
    account_no = ma.fields.String()
    field = ma.fields.String()
    ours = ma.fields.String()
    theirs = ma.fields.String()
    amount = Money()
    status = ma.fields.String()
    created_at = Timestamp()


class ClearingNewHouseIn(StrictSchema):
    org_id = ma.fields.Integer(required=True)
    replay_window_s = ma.fields.Integer(load_default=300)
    gap_alarm_s = ma.fields.Integer(load_default=60)


class ClearingHouseChangeIn(StrictSchema):
    replay_window_s = ma.fields.Integer()
    gap_alarm_s = ma.fields.Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "suspended")))


class ClearingAgreementChangeIn(StrictSchema):
    status = ma.fields.String(
        required=True, validate=ma.validate.OneOf(("active", "suspended", "terminated"))
    )


class ClearingHouseOut(ma.Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    replay_window_s = ma.fields.Integer()
    gap_alarm_s = ma.fields.Integer()
    fee_account_id = ma.fields.Integer()
    status = ma.fields.String()
    created_at = Timestamp()


class ClearingHouseCreatedOut(ClearingHouseOut):
    hmac_secret = ma.fields.String(metadata={"description": "shown once"})


class ClearingNewAgreementIn(StrictSchema):
    house_id = ma.fields.Integer(required=True)
    trader_org_id = ma.fields.Integer(required=True)


class ClearingAgreementOut(ma.Schema):
    id = ma.fields.Integer()
    trader_org_id = ma.fields.Integer()
    clearing_house_id = ma.fields.Integer()
    main_account_id = ma.fields.Integer()
    status = ma.fields.String()
    created_at = Timestamp()


class ClearingNewAccountIn(StrictSchema):
    agreement_id = ma.fields.Integer(required=True)
    account_no = ma.fields.String(required=True)
    label = ma.fields.String(load_default="", validate=ma.validate.Length(max=80))


class ClearingAccountOut(ma.Schema):
    id = ma.fields.Integer()
    account_no = ma.fields.String()
    label = ma.fields.String()
    clearing_house = ma.fields.String()
    trader_org_id = ma.fields.Integer()
    agreement_id = ma.fields.Integer()
    status = ma.fields.String()
    next_seq = ma.fields.Integer()
    balance = Money()
    held = Money()
    available = Money()
    pending_instructions = ma.fields.Integer()
    created_at = Timestamp()


class ClearingFundIn(StrictSchema):
    amount = Money(required=True)
    reference = ma.fields.String(
        required=True, metadata={"description": "idempotency of the funding: 1-40 of A-Za-z0-9._-"}
    )


class ClearingFundingOut(ma.Schema):
    id = ma.fields.Integer()
    account_id = ma.fields.Integer()
    amount = Money()
    transfer_id = ma.fields.String()
    created_at = Timestamp()


class ClearingOrderOut(ma.Schema):
    id = ma.fields.Integer()
    account_id = ma.fields.Integer()
    order_ref = ma.fields.String()
    status = ma.fields.String()
    open_amount = Money()
    bargained_amount = Money()
    fee_held = Money()
    delivered_amount = Money()
    held = ma.fields.Method("_held", metadata={"type": "string", "description": "frozen now"})
    created_at = Timestamp()
    updated_at = Timestamp()

    def _held(self, order):
        return f"{order.open_amount + order.bargained_amount + order.fee_held:.2f}"


class ClearingInstructionOut(ma.Schema):
    id = ma.fields.Integer()
    instruction_id = ma.fields.String()
    account_id = ma.fields.Integer()
    seq = ma.fields.Integer()
    kind = ma.fields.String()
    order_ref = ma.fields.String()
    amount = Money()
    fee = Money()
    clearing_fee = Money()
    counterparty_account_id = ma.fields.Integer(allow_none=True)
    trade_date = ma.fields.Date()
    status = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    received_at = Timestamp()
    applied_at = Timestamp(allow_none=True)


class ClearingInstructionArgs(PageArgs):
    account_id = ma.fields.Integer(load_default=None)
    status = ma.fields.String(load_default=None)


class ClearingDifferenceArgs(PageArgs):
    reconciliation_id = ma.fields.Integer(load_default=None)
    status = ma.fields.String(load_default=None)


class ClearingGapOut(ma.Schema):
    account_id = ma.fields.Integer()
    account_no = ma.fields.String()
    next_seq = ma.fields.Integer()
    first_pending_seq = ma.fields.Integer()
    pending = ma.fields.Integer()
    oldest_received_at = Timestamp()


class ClearingGapAlarmOut(ma.Schema):
    id = ma.fields.Integer()
    account_id = ma.fields.Integer()
    missing_from = ma.fields.Integer()
    missing_to = ma.fields.Integer()
    waiting_since = Timestamp()
    raised_at = Timestamp()
    status = ma.fields.String()
    closed_at = Timestamp(allow_none=True)


class ClearingReplayOut(ma.Schema):
    ok = ma.fields.Boolean()
    accounts = ma.fields.Integer()
    instructions = ma.fields.Integer()
    differences = ma.fields.List(ma.fields.Dict())


# --------------------------------------------------------------------------- clearing house


@blp.route("/instructions")
class Instructions(MethodView):
    max_body_bytes = 2_000_000

    @blp.arguments(ClearingInstructionIn)
    @blp.response(200, ClearingAnswerOut)
    @blp.alt_response(
        202, schema=ClearingAnswerOut, description="Waiting for an earlier seq (pending)"
    )
    @blp.alt_response(401, schema=ErrorSchema, description=SIGNED_401)
    @blp.alt_response(
        207, schema=ClearingBatchOut, description="A batch: one answer per instruction"
    )
    def post(self, body):
        """A clearing house's instructions (signed; no user token).

        One instruction, or ``{"instructions": [...]}`` (1-500) answered per instruction with
        207. order: freeze amount + fee; bargain: match part of the order; cancel: release the
        open part; delivery: pay the seller (and the fees). Idempotent by id; numbered per
        account (seq); an instruction ahead of its turn waits (202 pending).
        """
        raw = request.get_json()
        if isinstance(raw, dict) and "instructions" in raw:
            if set(raw) != {"instructions"}:
                raise ValidationFailed("a batch has only 'instructions'", code="invalid_batch")
            answers = service.submit(db(), _house(), raw["instructions"])
            return _json(ClearingBatchOut().dump({"results": answers}), 207)
        (answer,) = service.submit(db(), _house(), [raw])
        if answer.status == "refused":
            return error_response(answer.http_status, answer.code, answer.message, answer.details)
        return _json(ClearingAnswerOut().dump(answer), answer.http_status)


@blp.route("/reconciliation-files")
class ReconciliationFiles(MethodView):
    max_body_bytes = CSV_LIMIT + 10_000

    @blp.arguments(ClearingReconciliationFileIn)
    @blp.response(201, ClearingReconciliationOut)
    @blp.alt_response(401, schema=ErrorSchema, description=SIGNED_401)
    def post(self, body):
        """The clearing house's daily reconciliation CSV (signed; no user token).

        ``account_no,balance,held,instruction_count``; every difference from the ledger is
        listed, alarmed and raised as a clearing_difference risk event of the trader.
        """
        return service.reconcile(
            db(),
            service.house_actor(_house()),
            _house(),
            body["csv"],
            business_date=body["business_date"],
            source="upload",
            filename=body["filename"],
        )


# --------------------------------------------------------------------------- bank and traders


@blp.route("/houses")
class Houses(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingHouseOut, "ClearingHousePage"))
    def get(self, args):
        """Bank staff: the clearing houses."""
        return queries.list_houses(db(), current_actor(), **args)

    @blp.arguments(ClearingNewHouseIn)
    @blp.response(201, ClearingHouseCreatedOut)
    def post(self, body):
        """Admin: register a clearing house (an org of kind clearinghouse); its HMAC secret is
        answered once."""
        done = service.register_house(db(), current_actor(), _box(), **body)
        out = ClearingHouseOut().dump(done.house)
        return {**out, "hmac_secret": done.secret}


@blp.route("/houses/<int:house_id>")
class HouseDetail(MethodView):
    @blp.arguments(ClearingHouseChangeIn)
    @blp.response(200, ClearingHouseOut)
    def patch(self, body, house_id):
        """Admin: a clearing house's replay window, gap alarm limit (seconds) or status."""
        return service.configure_house(db(), current_actor(), house_id, **body)


@blp.route("/agreements/<int:agreement_id>")
class AgreementDetail(MethodView):
    @blp.arguments(ClearingAgreementChangeIn)
    @blp.response(200, ClearingAgreementOut)
    def patch(self, body, agreement_id):
        """rm, approver, admin: suspend, reactivate or terminate a trader's agreement (its
        accounts' instructions are refused with account_inactive while not active)."""
        return service.set_agreement_status(db(), current_actor(), agreement_id, body["status"])


@blp.route("/agreements")
class Agreements(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingAgreementOut, "ClearingAgreementPage"))
    def get(self, args):
        """Agreements: a trader sees its own, bank staff all."""
        return queries.list_agreements(db(), current_actor(), **args)

    @blp.arguments(ClearingNewAgreementIn)
    @blp.response(201, ClearingAgreementOut)
    def post(self, body):
        """rm, approver, admin: a trader joins a clearing house (idempotent)."""
        return service.create_agreement(db(), current_actor(), **body)


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingAccountOut, "ClearingAccountPage"))
    def get(self, args):
        """Trader accounts with balance, held and available: a trader sees its own."""
        return queries.list_accounts(db(), current_actor(), **args)

    @blp.arguments(ClearingNewAccountIn)
    @blp.response(201, ClearingAccountOut)
    def post(self, body):
        """rm, approver, admin: a trader account (sub-account) under an agreement."""
        account = service.open_trader_account(db(), current_actor(), **body)
        return queries.account_view(db(), current_actor(), account.id)


@blp.route("/accounts/<int:account_id>")
class AccountDetail(MethodView):
    @blp.response(200, ClearingAccountOut)
    def get(self, account_id):
        """One trader account; another trader's is 404."""
        return queries.account_view(db(), current_actor(), account_id)


@blp.route("/accounts/<int:account_id>/fund")
class FundAccount(MethodView):
    @blp.arguments(ClearingFundIn)
    @blp.response(201, ClearingFundingOut)
    def post(self, body, account_id):
        """The trader or bank staff: pay into the account from the trader's main deposit."""
        return service.fund_account(db(), current_actor(), account_id=account_id, **body)


@blp.route("/accounts/<int:account_id>/withdraw")
class WithdrawAccount(MethodView):
    @blp.arguments(ClearingFundIn)
    @blp.response(201, ClearingFundingOut)
    def post(self, body, account_id):
        """The trader or bank staff: back to the trader's main deposit, at most the available
        balance; once per reference (another amount: 409). The answer's amount is negative."""
        return service.withdraw_account(db(), current_actor(), account_id=account_id, **body)


@blp.route("/accounts/<int:account_id>/orders")
class AccountOrders(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingOrderOut, "ClearingOrderPage"))
    def get(self, args, account_id):
        """The account's orders and what each holds, newest first."""
        return queries.list_orders(db(), current_actor(), account_id, **args)


@blp.route("/instruction-log")
class InstructionLog(MethodView):
    @blp.arguments(ClearingInstructionArgs, location="query")
    @blp.response(200, page_schema(ClearingInstructionOut, "ClearingInstructionPage"))
    def get(self, args):
        """The instruction log, newest first (status pending | applied | rejected); a trader
        sees its own accounts'."""
        return queries.list_instructions(db(), current_actor(), **args)


@blp.route("/gaps")
class Gaps(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingGapOut, "ClearingGapPage"))
    def get(self, args):
        """Bank staff: accounts whose next instruction is missing while later ones wait."""
        return queries.list_gaps(db(), current_actor(), **args)


@blp.route("/gap-alarms")
class GapAlarms(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingGapAlarmOut, "ClearingGapAlarmPage"))
    def get(self, args):
        """Bank staff: gaps left open longer than the clearing house allows."""
        return queries.list_gap_alarms(db(), current_actor(), **args)


@blp.route("/reconciliations")
class Reconciliations(MethodView):
    max_body_bytes = CSV_LIMIT + 10_000

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ClearingReconciliationOut, "ClearingReconciliationPage"))
    def get(self, args):
        """Bank staff: reconciliation runs, newest first."""
        return queries.list_reconciliations(db(), current_actor(), **args)

    @blp.arguments(ClearingStaffReconciliationIn)
    @blp.response(201, ClearingReconciliationOut)
    def post(self, body):
        """rm, approver, admin: reconcile a clearing house's CSV uploaded by bank staff."""
        return service.reconcile_by_staff(
            db(),
            current_actor(),
            house_id=body["house_id"],
            csv_text=body["csv"],
            business_date=body["business_date"],
            filename=body["filename"],
        )


@blp.route("/differences")
class Differences(MethodView):
    @blp.arguments(ClearingDifferenceArgs, location="query")
    @blp.response(200, page_schema(ClearingDifferenceOut, "ClearingDifferencePage"))
    def get(self, args):
        """Bank staff: reconciliation differences (status open | resolved)."""
        return queries.list_differences(db(), current_actor(), **args)


@blp.route("/differences/<int:difference_id>/resolve")
class ResolveDifference(MethodView):
    @blp.response(200, ClearingDifferenceOut)
    def post(self, difference_id):
        """rm, approver, admin: a difference explained and closed."""
        return service.resolve_difference(db(), current_actor(), difference_id)


@blp.route("/replay")
class Replay(MethodView):
    @blp.response(200, ClearingReplayOut)
    def get(self):
        """Bank staff: the instruction log replayed and compared with the ledger."""
        return queries.replay_report(db(), current_actor())
