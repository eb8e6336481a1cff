"""Floor-plan auto finance ("car e-link") for dealers, OEMs, supervisors and bank staff.

Every object is checked against the caller's org (another org's is 404). Money is a decimal
string; ratios are decimal strings ("0.30"). Services: backend/floorplan/service.py.
"""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.floorplan import rules
from backend.floorplan import service as fp
from backend.platform.clock import utcnow
from miniapp_api.common import Money, PageArgs, StrictSchema, current_actor, db, page_schema

blp = Blueprint(
    "floorplan",
    __name__,
    url_prefix="/api/v1/floorplan",
    description="Floor-plan auto finance: credit lines, bills, shipments, cars, audits, alerts",
)

POSITIVE = ma.validate.Range(min=Decimal("0.01"), error="must be greater than zero")
VIN = ma.validate.Regexp(rules.VIN_RE, error="17 characters: 0-9, A-Z except I, O, Q")


def live():
    return current_app.extensions["finedge"].live


class Ratio(ma.fields.Field):
    """A ratio stored in basis points, shown as a decimal string ("0.3000")."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else rules.bp_to_ratio(value)


# --------------------------------------------------------------------------- schemas: out


class VehicleOut(ma.Schema):
    vin = ma.fields.String()
    model = ma.fields.String()
    price = Money(metadata={"description": "financed amount"})
    status = ma.fields.String(metadata={"enum": list(rules.VEHICLE_STATUSES)})
    certificate_no = ma.fields.String()
    certificate_status = ma.fields.String()
    location = ma.fields.String(allow_none=True)
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    oem_id = ma.fields.Integer(attribute="oem_org_id")
    supervisor_id = ma.fields.Integer(attribute="supervisor_org_id")
    warehouse_id = ma.fields.Integer()
    bill_id = ma.fields.Integer()
    shipment_id = ma.fields.Integer()
    outstanding = Money(metadata={"description": "financed amount still owed"})
    repaid = Money()
    margin_held = Money(metadata={"description": "this car's frozen margin"})
    margin_applied = Money()
    advanced = Money(metadata={"description": "owed on the dealer's advance after maturity"})
    days_in_stock = ma.fields.Method("_days")
    shipped_at = ma.fields.DateTime()
    arrived_at = ma.fields.DateTime(allow_none=True)
    pledged_at = ma.fields.DateTime(allow_none=True)
    redeemed_at = ma.fields.DateTime(allow_none=True)
    released_at = ma.fields.DateTime(allow_none=True)
    redeem_mode = ma.fields.String(allow_none=True)
    redemption_id = ma.fields.Integer(allow_none=True)
    repay_by = ma.fields.DateTime(attribute="rbr_due_at", allow_none=True)
    release_before_repay_amount = Money(attribute="rbr_amount")
    curtailment_status = ma.fields.String(allow_none=True)

    def _days(self, obj):
        return fp.days_in_stock(obj, utcnow())


class CurtailmentOut(ma.Schema):
    id = ma.fields.Integer()
    vehicle_id = ma.fields.Integer()
    amount = Money()
    status = ma.fields.String()
    due_at = ma.fields.DateTime()
    paid_at = ma.fields.DateTime(allow_none=True)


class VehicleDetailOut(VehicleOut):
    curtailment = ma.fields.Nested(CurtailmentOut, allow_none=True)


class RedemptionOut(ma.Schema):
    id = ma.fields.Integer(attribute="redemption.id")
    mode = ma.fields.String(attribute="redemption.mode")
    vehicle_count = ma.fields.Integer(attribute="redemption.vehicle_count")
    amount = Money(attribute="redemption.amount")
    margin_released = Money(attribute="redemption.margin_released")
    vehicles = ma.fields.List(ma.fields.Nested(VehicleOut))


class ProgrammeOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    oem_id = ma.fields.Integer(attribute="oem_org_id")
    margin_ratio = Ratio(attribute="margin_ratio_bp")
    curtailment_days = ma.fields.Integer()
    curtailment_ratio = Ratio(attribute="curtailment_ratio_bp")
    curtailment_grace_days = ma.fields.Integer()
    aging_days = ma.fields.List(ma.fields.Integer())
    rbr_days = ma.fields.Integer()
    status = ma.fields.String()


class WarehouseOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    supervisor_id = ma.fields.Integer(attribute="supervisor_org_id")
    address = ma.fields.String(allow_none=True)


class CreditLineOut(ma.Schema):
    id = ma.fields.Integer()
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    oem_id = ma.fields.Integer(attribute="oem_org_id")
    programme_id = ma.fields.Integer()
    limit = Money(attribute="limit_amount")
    used = Money(attribute="used_amount")
    available = ma.fields.Method("_available")
    margin_ratio = Ratio(attribute="margin_ratio_bp")
    trusted = ma.fields.Boolean()
    rbr_limit = Money()
    rbr_used = Money()
    rbr_days = ma.fields.Integer()
    status = ma.fields.String()
    updated_at = ma.fields.DateTime()

    def _available(self, obj):
        return str(obj.limit_amount - obj.used_amount)


class CreditLineRequestOut(ma.Schema):
    id = ma.fields.Integer()
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    programme_id = ma.fields.Integer()
    credit_line_id = ma.fields.Integer(allow_none=True)
    limit = Money(attribute="limit_amount")
    margin_ratio = Ratio(attribute="margin_ratio_bp")
    trusted = ma.fields.Boolean()
    rbr_limit = Money()
    rbr_days = ma.fields.Integer()
    status = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    maker = ma.fields.String(attribute="maker_username")
    checker = ma.fields.String(attribute="checker_username", allow_none=True)
    decision_note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)


class AcceptanceBillOut(ma.Schema):
    id = ma.fields.Integer()
    bill_no = ma.fields.String()
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    oem_id = ma.fields.Integer(attribute="oem_org_id", metadata={"description": "payee"})
    amount = Money()
    margin_ratio = Ratio(attribute="margin_ratio_bp")
    margin = Money(attribute="margin_amount")
    term_months = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": list(rules.BILL_STATUSES)})
    issue_date = ma.fields.Date(allow_none=True)
    maturity_date = ma.fields.Date(allow_none=True)
    outstanding = Money()
    advance_outstanding = Money()
    shortfall = Money()
    requested_at = ma.fields.DateTime()
    issued_at = ma.fields.DateTime(allow_none=True)
    settled_at = ma.fields.DateTime(allow_none=True)
    note = ma.fields.String(allow_none=True)
    decision_note = ma.fields.String(allow_none=True)


class ShipmentOut(ma.Schema):
    id = ma.fields.Integer()
    bill_id = ma.fields.Integer()
    oem_id = ma.fields.Integer(attribute="oem_org_id")
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    supervisor_id = ma.fields.Integer(attribute="supervisor_org_id")
    warehouse_id = ma.fields.Integer()
    status = ma.fields.String()
    vehicle_count = ma.fields.Integer()
    total_amount = Money()
    carrier_ref = ma.fields.String(allow_none=True)
    shipped_at = ma.fields.DateTime()
    arrived_at = ma.fields.DateTime(allow_none=True)


class ShipmentDetailOut(ShipmentOut):
    vehicles = ma.fields.List(ma.fields.Nested(VehicleOut))


class VehicleAlertOut(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    severity = ma.fields.String(metadata={"enum": list(rules.SEVERITIES)})
    status = ma.fields.String()
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    vin = ma.fields.String(allow_none=True)
    bill_id = ma.fields.Integer(allow_none=True)
    audit_id = ma.fields.Integer(allow_none=True)
    message = ma.fields.String()
    data = ma.fields.Dict()
    occurrences = ma.fields.Integer()
    first_seen_at = ma.fields.DateTime()
    last_seen_at = ma.fields.DateTime()
    acknowledged_by = ma.fields.String(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)


class InventoryCheckOut(ma.Schema):
    vin = ma.fields.String()
    expected = ma.fields.Boolean()
    result = ma.fields.String()
    checked_at = ma.fields.DateTime(allow_none=True)
    checked_by = ma.fields.String(allow_none=True)
    photo_ref = ma.fields.String(allow_none=True)
    location = ma.fields.String(allow_none=True)
    certificate_no_seen = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class InventoryAuditOut(ma.Schema):
    id = ma.fields.Integer()
    warehouse_id = ma.fields.Integer()
    dealer_id = ma.fields.Integer(attribute="dealer_org_id")
    supervisor_id = ma.fields.Integer(attribute="supervisor_org_id")
    status = ma.fields.String()
    trigger = ma.fields.String()
    risk_tier = ma.fields.String()
    sample_ratio = Ratio(attribute="sample_ratio_bp")
    opened_at = ma.fields.DateTime()
    opened_by = ma.fields.String()
    closed_at = ma.fields.DateTime(allow_none=True)
    expected_count = ma.fields.Integer()
    present_count = ma.fields.Integer()
    missing_count = ma.fields.Integer()
    mismatch_count = ma.fields.Integer()
    extra_count = ma.fields.Integer()


class InventoryAuditDetailOut(InventoryAuditOut):
    checks = ma.fields.List(ma.fields.Nested(InventoryCheckOut))


class FloorplanTransferOut(ma.Schema):
    transfer_id = ma.fields.String()
    amount = Money()
    code = ma.fields.String()
    created_at = ma.fields.DateTime()


class CarsCountOut(ma.Schema):
    count = ma.fields.Integer()
    financed = Money()


class DealerSummaryOut(ma.Schema):
    dealer_id = ma.fields.Integer()
    dealer_code = ma.fields.String()
    dealer_name = ma.fields.String()
    credit_line = ma.fields.Nested(CreditLineOut, allow_none=True)
    limit = Money()
    used = Money()
    available = Money()
    margin = Money(metadata={"description": "margin account balance"})
    frozen = Money(metadata={"description": "margin frozen by holds"})
    free_margin = Money(metadata={"description": "margin above what the cars require"})
    required_margin = Money()
    deposit = Money()
    deposit_available = Money()
    advance_outstanding = Money()
    rbr_limit = Money()
    rbr_used = Money()
    cars_by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CarsCountOut))
    bills_by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    open_alerts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    as_of = ma.fields.DateTime()


# --------------------------------------------------------------------------- schemas: in


class VehicleArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(rules.VEHICLE_STATUSES))
    dealer_id = ma.fields.Integer()
    bill_id = ma.fields.Integer()
    warehouse_id = ma.fields.Integer()


class RedeemIn(StrictSchema):
    mode = ma.fields.String(load_default="full", validate=ma.validate.OneOf(rules.REDEEM_MODES))


class BatchRedeemIn(RedeemIn):
    vins = ma.fields.List(
        ma.fields.String(validate=VIN),
        required=True,
        validate=ma.validate.Length(min=1, max=200),
    )


class IntakeIn(StrictSchema):
    certificate_no = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    location = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))


class FloorplanAmountIn(StrictSchema):
    amount = Money(required=True, validate=POSITIVE)
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class OptionalAmountIn(StrictSchema):
    amount = Money(load_default=None, validate=POSITIVE)


class ProgrammeIn(StrictSchema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    oem_id = ma.fields.Integer(required=True)
    margin_ratio = ma.fields.String(load_default="0.30")
    curtailment_days = ma.fields.Integer(load_default=90)
    curtailment_ratio = ma.fields.String(load_default="0.10")
    curtailment_grace_days = ma.fields.Integer(load_default=10)
    aging_days = ma.fields.List(ma.fields.Integer(), load_default=[90, 120, 180])
    rbr_days = ma.fields.Integer(load_default=7)


class WarehouseIn(StrictSchema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    dealer_id = ma.fields.Integer(required=True)
    supervisor_id = ma.fields.Integer(required=True)
    address = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class CreditLineRequestIn(StrictSchema):
    dealer_id = ma.fields.Integer(required=True)
    limit = Money(required=True, validate=POSITIVE)
    margin_ratio = ma.fields.String(load_default=None)
    trusted = ma.fields.Boolean(load_default=False)
    rbr_limit = Money(load_default=Decimal("0.00"))
    rbr_days = ma.fields.Integer(load_default=None)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))


class FloorplanDecisionIn(StrictSchema):
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))


class FloorplanStatusArgs(PageArgs):
    status = ma.fields.String()


class AcceptanceBillArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(rules.BILL_STATUSES))
    dealer_id = ma.fields.Integer()


class AcceptanceBillIn(StrictSchema):
    amount = Money(required=True, validate=POSITIVE)
    term_months = ma.fields.Integer(required=True, validate=ma.validate.OneOf(rules.BILL_TERMS))
    dealer_id = ma.fields.Integer(load_default=None)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))


class ShippedCarIn(StrictSchema):
    vin = ma.fields.String(required=True, validate=VIN)
    model = ma.fields.String(required=True, validate=ma.validate.Length(1, 80))
    price = Money(required=True, validate=POSITIVE)
    certificate_no = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))


class ShipmentIn(StrictSchema):
    bill_id = ma.fields.Integer(required=True)
    warehouse_id = ma.fields.Integer(required=True)
    carrier_ref = ma.fields.String(load_default=None, validate=ma.validate.Length(max=80))
    vehicles = ma.fields.List(
        ma.fields.Nested(ShippedCarIn), required=True, validate=ma.validate.Length(1, 500)
    )


class InventoryAuditIn(StrictSchema):
    warehouse_id = ma.fields.Integer(required=True)
    sample_ratio = ma.fields.String(load_default=None)


class InventoryAuditArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(("open", "closed")))
    warehouse_id = ma.fields.Integer()


class InventoryCheckIn(StrictSchema):
    vin = ma.fields.String(required=True, validate=VIN)
    certificate_no = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 40))
    location = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))
    photo_ref = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    checked_at = ma.fields.AwareDateTime(load_default=None)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=300))


class VehicleAlertArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(rules.ALERT_STATUSES))
    severity = ma.fields.String(validate=ma.validate.OneOf(rules.SEVERITIES))
    kind = ma.fields.String()
    dealer_id = ma.fields.Integer()
    vin = ma.fields.String()


# --------------------------------------------------------------------------- cars


@blp.route("/vehicles")
class Vehicles(MethodView):
    @blp.arguments(VehicleArgs, location="query")
    @blp.response(200, page_schema(VehicleOut, "VehiclePage"))
    def get(self, args):
        """Cars: dealers see their own, OEMs those they shipped, supervisors those in their
        yards, bank staff all."""
        return fp.list_vehicles(db(), current_actor(), **args)


@blp.route("/vehicles/<string:vin>")
class VehicleDetail(MethodView):
    @blp.response(200, VehicleDetailOut)
    def get(self, vin):
        """One car, with its days in stock and curtailment."""
        session = db()
        vehicle = fp.vehicle_detail(session, current_actor(), vin)
        vehicle.curtailment = fp.curtailment_of(session, vehicle)
        return vehicle


@blp.route("/vehicles/<string:vin>/redeem")
class Redeem(MethodView):
    @blp.arguments(RedeemIn)
    @blp.response(200, VehicleOut)
    def post(self, body, vin):
        """Dealer: repay the car (mode full: from deposit; margin: from margin above the
        required ratio). Status becomes "redeemed" (or "released" for a car already out)."""
        result = fp.redeem_vehicles(db(), current_actor(), [vin], mode=body["mode"])
        return result.vehicles[0]


@blp.route("/redemptions")
class Redemptions(MethodView):
    @blp.arguments(BatchRedeemIn)
    @blp.response(200, RedemptionOut)
    def post(self, body):
        """Dealer: redeem several cars at once, all or nothing (one ledger batch)."""
        return fp.redeem_vehicles(db(), current_actor(), body["vins"], mode=body["mode"])


@blp.route("/vehicles/<string:vin>/release")
class Release(MethodView):
    @blp.response(200, VehicleOut)
    def post(self, vin):
        """Supervisor: release a redeemed car (422 unless redeemed or granted
        release-before-repay); the certificate leaves custody."""
        return fp.release_vehicle(db(), current_actor(), vin)


@blp.route("/vehicles/<string:vin>/report-missing")
class ReportMissing(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, VehicleOut)
    def post(self, body, vin):
        """Supervisor: a pledged car is gone from the yard: out of trust (hard alert, risk
        event) at once."""
        return fp.report_missing(db(), current_actor(), live(), vin, note=body["note"])


@blp.route("/vehicles/<string:vin>/intake")
class Intake(MethodView):
    @blp.arguments(IntakeIn)
    @blp.response(200, VehicleOut)
    def post(self, body, vin):
        """Supervisor: scan VIN and certificate at the yard: the car is pledged (in_stock)."""
        return fp.intake_vehicle(db(), current_actor(), vin, **body)


@blp.route("/vehicles/<string:vin>/release-before-repay")
class ReleaseBeforeRepay(MethodView):
    @blp.response(200, VehicleOut)
    def post(self, vin):
        """Trusted dealer: take the car out first, repay by the line's deadline."""
        return fp.grant_release_before_repay(db(), current_actor(), vin)


@blp.route("/vehicles/<string:vin>/curtailment/pay")
class PayCurtailment(MethodView):
    @blp.response(200, CurtailmentOut)
    def post(self, vin):
        """Dealer: pay the car's curtailment from the deposit."""
        return fp.pay_curtailment(db(), current_actor(), vin)


# --------------------------------------------------------------------------- dealers


@blp.route("/dealers/<int:dealer_id>/summary")
class DealerSummary(MethodView):
    @blp.response(200, DealerSummaryOut)
    def get(self, dealer_id):
        """Credit line, used, margin, frozen, cars by status (dealer, its OEM, bank staff)."""
        return fp.dealer_summary(db(), current_actor(), dealer_id)


@blp.route("/dealers/<int:dealer_id>/deposits")
class Deposits(MethodView):
    @blp.arguments(FloorplanAmountIn)
    @blp.response(201, FloorplanTransferOut)
    def post(self, body, dealer_id):
        """Teller: cash paid into the dealer's deposit account."""
        return fp.deposit_cash(
            db(), current_actor(), dealer_id, body["amount"], reference=body["reference"]
        )


@blp.route("/dealers/<int:dealer_id>/margin/top-up")
class MarginTopUp(MethodView):
    @blp.arguments(FloorplanAmountIn)
    @blp.response(201, FloorplanTransferOut)
    def post(self, body, dealer_id):
        """Dealer: move deposit into margin."""
        return fp.top_up_margin(db(), current_actor(), dealer_id, body["amount"])


@blp.route("/dealers/<int:dealer_id>/margin/withdraw")
class MarginWithdraw(MethodView):
    @blp.arguments(FloorplanAmountIn)
    @blp.response(201, FloorplanTransferOut)
    def post(self, body, dealer_id):
        """Dealer: move free margin (above what the cars require) back to the deposit."""
        return fp.withdraw_margin(db(), current_actor(), dealer_id, body["amount"])


# --------------------------------------------------------------------------- set-up, credit


@blp.route("/programmes")
class Programmes(MethodView):
    @blp.response(200, ProgrammeOut(many=True))
    def get(self):
        """OEM programmes (bank staff all; OEMs and their dealers their own)."""
        return fp.list_programmes(db(), current_actor())

    @blp.arguments(ProgrammeIn)
    @blp.response(201, ProgrammeOut)
    def post(self, body):
        """Admin: a programme for an OEM."""
        body["oem_org_id"] = body.pop("oem_id")
        return fp.create_programme(db(), current_actor(), **body)


@blp.route("/warehouses")
class Warehouses(MethodView):
    @blp.response(200, WarehouseOut(many=True))
    def get(self):
        """Yards the caller may see."""
        return fp.list_warehouses(db(), current_actor())

    @blp.arguments(WarehouseIn)
    @blp.response(201, WarehouseOut)
    def post(self, body):
        """Bank staff: a dealer's yard watched by a supervisor company."""
        return fp.create_warehouse(
            db(),
            current_actor(),
            code=body["code"],
            name=body["name"],
            dealer_org_id=body["dealer_id"],
            supervisor_org_id=body["supervisor_id"],
            address=body["address"],
        )


@blp.route("/credit-lines")
class CreditLines(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(CreditLineOut, "CreditLinePage"))
    def get(self, args):
        """Lines: bank staff all, a dealer its own, an OEM its dealers'."""
        return fp.list_lines(db(), current_actor(), **args)


@blp.route("/credit-lines/<int:line_id>")
class CreditLineDetail(MethodView):
    @blp.response(200, CreditLineOut)
    def get(self, line_id):
        """One line."""
        return fp.get_line(db(), current_actor(), line_id)


@blp.route("/credit-lines/<int:line_id>/<any(suspend, reactivate):action>")
class CreditLineStatus(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, CreditLineOut)
    def post(self, body, line_id, action):
        """Approver: suspend a line (no new bills or releases on trust) or reactivate it."""
        status = "suspended" if action == "suspend" else "active"
        return fp.set_line_status(db(), current_actor(), line_id, status, note=body["note"])


@blp.route("/credit-line-requests")
class CreditLineRequests(MethodView):
    @blp.arguments(FloorplanStatusArgs, location="query")
    @blp.response(200, page_schema(CreditLineRequestOut, "CreditLineRequestPage"))
    def get(self, args):
        """Bank staff: proposals waiting for (or past) approval."""
        return fp.list_requests(db(), current_actor(), **args)

    @blp.arguments(CreditLineRequestIn)
    @blp.response(201, CreditLineRequestOut)
    def post(self, body):
        """RM (maker): propose a line or new terms for a dealer."""
        body["dealer_org_id"] = body.pop("dealer_id")
        return fp.propose_credit_line(db(), current_actor(), **body)


@blp.route("/credit-line-requests/<int:request_id>/approve")
class ApproveCreditLine(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, CreditLineOut)
    def post(self, body, request_id):
        """Approver (checker, not the maker): apply the proposed terms."""
        return fp.approve_credit_line(db(), current_actor(), request_id, note=body["note"])


@blp.route("/credit-line-requests/<int:request_id>/reject")
class RejectCreditLine(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, CreditLineRequestOut)
    def post(self, body, request_id):
        """Approver: reject the proposal."""
        return fp.reject_credit_line(db(), current_actor(), request_id, note=body["note"])


# --------------------------------------------------------------------------- bills


@blp.route("/bills")
class Bills(MethodView):
    @blp.arguments(AcceptanceBillArgs, location="query")
    @blp.response(200, page_schema(AcceptanceBillOut, "AcceptanceBillPage"))
    def get(self, args):
        """Bills: a dealer its own, an OEM those payable to it, bank staff all."""
        return fp.list_bills(db(), current_actor(), **args)

    @blp.arguments(AcceptanceBillIn)
    @blp.response(201, AcceptanceBillOut)
    def post(self, body):
        """Dealer: ask for an acceptance bill to pay the OEM (3 or 6 months)."""
        return fp.request_bill(
            db(),
            current_actor(),
            amount=body["amount"],
            term_months=body["term_months"],
            dealer_org_id=body["dealer_id"],
            note=body["note"],
        )


@blp.route("/bills/<int:bill_id>")
class BillDetail(MethodView):
    @blp.response(200, AcceptanceBillOut)
    def get(self, bill_id):
        """One bill."""
        return fp.get_bill(db(), current_actor(), bill_id)


@blp.route("/bills/<int:bill_id>/issue")
class IssueBill(MethodView):
    @blp.response(200, AcceptanceBillOut)
    def post(self, bill_id):
        """Bank staff: risk check, line check, margin frozen, bill issued."""
        return fp.issue_bill(db(), current_actor(), bill_id)


@blp.route("/bills/<int:bill_id>/reject")
class RejectBill(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, AcceptanceBillOut)
    def post(self, body, bill_id):
        """Bank staff: refuse a requested bill."""
        return fp.reject_bill(db(), current_actor(), bill_id, note=body["note"])


@blp.route("/bills/<int:bill_id>/settle")
class SettleBill(MethodView):
    @blp.response(200, AcceptanceBillOut)
    def post(self, bill_id):
        """Bank staff: run the maturity sweep of a bill now (the job does it hourly)."""
        return fp.settle_bill(db(), current_actor(), live(), bill_id)


@blp.route("/bills/<int:bill_id>/repay")
class RepayBillAdvance(MethodView):
    @blp.arguments(OptionalAmountIn)
    @blp.response(200, AcceptanceBillOut)
    def post(self, body, bill_id):
        """Dealer: repay the advance of a bill that matured before its cars were shipped."""
        return fp.repay_bill_advance(db(), current_actor(), bill_id, body["amount"])


# --------------------------------------------------------------------------- shipments


@blp.route("/shipments")
class Shipments(MethodView):
    @blp.arguments(FloorplanStatusArgs, location="query")
    @blp.response(200, page_schema(ShipmentOut, "ShipmentPage"))
    def get(self, args):
        """Shipments the caller ships, receives or supervises."""
        return fp.list_shipments(db(), current_actor(), **args)

    @blp.arguments(ShipmentIn)
    @blp.response(201, ShipmentDetailOut)
    def post(self, body):
        """OEM: the shipping list of an issued bill (prices add up to the bill)."""
        session = db()
        shipment = fp.create_shipment(session, current_actor(), **body)
        shipment.vehicles = fp.shipment_vehicles(session, shipment)
        return shipment


@blp.route("/shipments/<int:shipment_id>")
class ShipmentDetail(MethodView):
    @blp.response(200, ShipmentDetailOut)
    def get(self, shipment_id):
        """One shipment with its cars."""
        session = db()
        shipment = fp.get_shipment(session, current_actor(), shipment_id)
        shipment.vehicles = fp.shipment_vehicles(session, shipment)
        return shipment


@blp.route("/shipments/<int:shipment_id>/arrive")
class ArriveShipment(MethodView):
    @blp.response(200, ShipmentOut)
    def post(self, shipment_id):
        """OEM or supervisor: the cars reached the yard."""
        return fp.mark_arrived(db(), current_actor(), shipment_id)


# --------------------------------------------------------------------------- audits


@blp.route("/audits")
class Audits(MethodView):
    @blp.arguments(InventoryAuditArgs, location="query")
    @blp.response(200, page_schema(InventoryAuditOut, "InventoryAuditPage"))
    def get(self, args):
        """Inventory audits, newest first."""
        return fp.list_audits(db(), current_actor(), **args)

    @blp.arguments(InventoryAuditIn)
    @blp.response(201, InventoryAuditDetailOut)
    def post(self, body):
        """Supervisor or bank staff: open an audit of a yard (a risk-based sample)."""
        session = db()
        record = fp.open_audit(
            session, current_actor(), body["warehouse_id"], sample_ratio=body["sample_ratio"]
        )
        record.checks = fp.audit_checks(session, record)
        return record


@blp.route("/audits/<int:audit_id>")
class AuditDetail(MethodView):
    @blp.response(200, InventoryAuditDetailOut)
    def get(self, audit_id):
        """One audit with its checks."""
        session = db()
        record = fp.get_audit(session, current_actor(), audit_id)
        record.checks = fp.audit_checks(session, record)
        return record


@blp.route("/audits/<int:audit_id>/checks")
class AuditChecks(MethodView):
    @blp.arguments(InventoryCheckIn)
    @blp.response(201, InventoryCheckOut)
    def post(self, body, audit_id):
        """Supervisor: one car checked (time, photo reference, location, certificate)."""
        return fp.record_check(db(), current_actor(), live(), audit_id, **body)


@blp.route("/audits/<int:audit_id>/close")
class CloseAudit(MethodView):
    @blp.response(200, InventoryAuditDetailOut)
    def post(self, audit_id):
        """Supervisor: close; sampled cars not checked are missing (out of trust)."""
        session = db()
        record = fp.close_audit(session, current_actor(), live(), audit_id)
        record.checks = fp.audit_checks(session, record)
        return record


# --------------------------------------------------------------------------- alerts


@blp.route("/alerts")
class Alerts(MethodView):
    @blp.arguments(VehicleAlertArgs, location="query")
    @blp.response(200, page_schema(VehicleAlertOut, "VehicleAlertPage"))
    def get(self, args):
        """Vehicle alerts, newest first (also pushed on Socket.IO as vehicle.alert)."""
        return fp.list_alerts(db(), current_actor(), **args)


@blp.route("/alerts/<int:alert_id>")
class AlertDetail(MethodView):
    @blp.response(200, VehicleAlertOut)
    def get(self, alert_id):
        """One alert."""
        return fp.get_alert(db(), current_actor(), alert_id)


@blp.route("/alerts/<int:alert_id>/acknowledge")
class AcknowledgeAlert(MethodView):
    @blp.response(200, VehicleAlertOut)
    def post(self, alert_id):
        """Whoever sees the alert: seen, being handled."""
        return fp.acknowledge_alert(db(), current_actor(), alert_id)


@blp.route("/alerts/<int:alert_id>/resolve")
class ResolveAlert(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, VehicleAlertOut)
    def post(self, body, alert_id):
        """Bank staff: handled and closed."""
        return fp.resolve_alert(db(), current_actor(), alert_id, note=body["note"])
