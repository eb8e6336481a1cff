"""The floor-plan HTTP shapes: response schemas (``...Out``) and request bodies and query
arguments (``...In``, ``...Args``). Money is a decimal string, ratios in basis points are shown
as decimal strings ("0.3000")."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from marshmallow.utils import get_value

from backend.floorplan import queries, rules
from backend.platform.clock import isoformat, utcnow
from miniapp_api.common import Money, PageArgs, StrictSchema, Timestamp

POSITIVE = ma.validate.Range(min=Decimal("0.01"), error="must be greater than zero")
VIN = ma.validate.Regexp(rules.VIN_RE, error="17 characters: 0-9, A-Z except I, O, Q")


class Ratio(ma.fields.Field):
    """A ratio stored in basis points, shown as a decimal string ("0.3000")."""

    def __init__(self, *args, **kwargs):
        kwargs["metadata"] = {
            "type": "string",
            "format": "decimal",
            "pattern": r"^[0-9]+\.[0-9]{4}$",
            "example": "0.3000",
            **kwargs.get("metadata", {}),
        }
        super().__init__(*args, **kwargs)

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
    days_in_stock = ma.fields.Method("_days", metadata={"type": "integer"})
    shipped_at = Timestamp()
    arrived_at = Timestamp(allow_none=True)
    pledged_at = Timestamp(allow_none=True)
    redeemed_at = Timestamp(allow_none=True)
    released_at = Timestamp(allow_none=True)
    redeem_mode = ma.fields.String(allow_none=True)
    redemption_id = ma.fields.Integer(allow_none=True)
    repay_by = Timestamp(attribute="rbr_due_at", allow_none=True)
    release_before_repay_amount = Money(attribute="rbr_amount")
    curtailment_status = ma.fields.String(allow_none=True)

    def _days(self, obj):
        return queries.days_in_stock(obj, utcnow())


class CurtailmentOut(ma.Schema):
    id = ma.fields.Integer()
    vehicle_id = ma.fields.Integer()
    amount = Money()
    status = ma.fields.String()
    due_at = Timestamp()
    paid_at = Timestamp(allow_none=True)


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
    available = ma.fields.Method("_available", metadata=Money.DOC)
    margin_ratio = Ratio(attribute="margin_ratio_bp")
    trusted = ma.fields.Boolean()
    rbr_limit = Money()
    rbr_used = Money()
    rbr_days = ma.fields.Integer()
    status = ma.fields.String()
    updated_at = Timestamp()

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
    created_at = Timestamp()
    decided_at = Timestamp(allow_none=True)


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
    requested_at = Timestamp()
    issued_at = Timestamp(allow_none=True)
    settled_at = Timestamp(allow_none=True)
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
    shipped_at = Timestamp()
    arrived_at = Timestamp(allow_none=True)


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
    first_seen_at = Timestamp()
    last_seen_at = Timestamp()
    acknowledged_by = ma.fields.String(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolved_at = Timestamp(allow_none=True)


class VehicleAlertEventOut(VehicleAlertOut):
    """The ``vehicle.alert`` push: the alert as the API shows it, and when it was last seen."""

    at = ma.fields.Function(
        lambda alert: isoformat(get_value(alert, "last_seen_at")),
        metadata={"type": "string", "format": "date-time", "description": "last seen"},
    )


class InventoryCheckOut(ma.Schema):
    vin = ma.fields.String()
    expected = ma.fields.Boolean()
    result = ma.fields.String()
    checked_at = Timestamp(allow_none=True)
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
    opened_at = Timestamp()
    opened_by = ma.fields.String()
    closed_at = Timestamp(allow_none=True)
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
    created_at = Timestamp()


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
    as_of = Timestamp()


class DealerOverviewOut(DealerSummaryOut):
    """A dealer summary as a row of the bank's overview, with its aged stock."""

    utilisation = ma.fields.String(
        allow_none=True,
        metadata={"description": "used / limit as a decimal string (null without a limit)"},
    )
    aging = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={
            "description": "aging threshold in days (the programme's: 90, 120, 180) -> cars in "
            "stock at least that long"
        },
    )


# --------------------------------------------------------------------------- schemas: in


class VehicleArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(rules.VEHICLE_STATUSES))
    dealer_id = ma.fields.Integer()
    bill_id = ma.fields.Integer()
    warehouse_id = ma.fields.Integer()
    vin = ma.fields.String(
        validate=ma.validate.Regexp(r"^[0-9A-Za-z]{1,17}$"),
        metadata={"description": "cars whose VIN contains this (1 to 17 letters or digits)"},
    )
    min_days = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=36500),
        metadata={"description": "cars pledged at least this many days ago (aging)"},
    )


ON_BEHALF_DOC = (
    "Tellers only, and then required: the dealer's instruction this act carries out. The "
    "dealer's own users leave it out (400 on_behalf_not_allowed); rm, approver, admin, OEM and "
    "supervisor may not act for a dealer at all (403 forbidden). Recorded in the act's audit "
    "record and in a floorplan.acted_on_behalf record the dealer reads "
    "(GET /dealers/{id}/acts-on-behalf)."
)


class OnBehalfIn(StrictSchema):
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "Why the bank acts for the dealer", "example": "at the counter"},
    )
    instruction_ref = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=80),
        metadata={
            "description": "Reference of the dealer's instruction (e.g. signed slip number)",
            "example": "SLIP-2024-000123",
        },
    )


def on_behalf_field() -> ma.fields.Nested:
    return ma.fields.Nested(OnBehalfIn, load_default=None, metadata={"description": ON_BEHALF_DOC})


class DealerActIn(StrictSchema):
    """The body of a dealer's own act without other fields (may be empty: {})."""

    on_behalf = on_behalf_field()


class RedeemIn(StrictSchema):
    mode = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(rules.REDEEM_MODES),
        metadata={
            "description": "Required (no default: an empty body repays nothing, 400): full "
            "pays from the deposit, margin from margin above the required ratio"
        },
    )
    on_behalf = on_behalf_field()


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


class MarginMoveIn(FloorplanAmountIn):
    on_behalf = on_behalf_field()


class OptionalAmountIn(StrictSchema):
    amount = Money(load_default=None, validate=POSITIVE)
    on_behalf = on_behalf_field()


class ActOnBehalfOut(ma.Schema):
    """One act the bank did on a dealer's behalf (from its floorplan.acted_on_behalf record)."""

    id = ma.fields.Integer()
    at = ma.fields.String(metadata={"format": "date-time"})
    act = ma.fields.String(
        metadata={
            "description": "redeem | margin_top_up | margin_withdrawal | curtailment_payment | "
            "advance_repayment | release_before_repay"
        }
    )
    object_type = ma.fields.String()
    object_ids = ma.fields.List(ma.fields.String())
    transfer_ids = ma.fields.List(ma.fields.String())
    batch_id = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    instruction_ref = ma.fields.String()
    agent_username = ma.fields.String()
    agent_role = ma.fields.String()


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
