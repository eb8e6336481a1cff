"""The asset-pool HTTP shapes. Money is a decimal string; haircuts and ratios are integer basis
points (9500 = 95 %), as the configuration stores them."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from backend.assetpool import rules
from miniapp_api.common import Money, PageArgs, StrictSchema, Timestamp

POSITIVE = ma.validate.Range(min=Decimal("0.01"), error="must be greater than zero")


class PoolOut(ma.Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    status = ma.fields.String()
    capacity = Money(metadata={"description": "pledged value + margin value − outstanding"})
    pledged_value = Money(metadata={"description": "Σ eligible pledged assets × haircut"})
    margin_cash = Money(metadata={"description": "posted balance of the pool's margin account"})
    margin_value = Money(metadata={"description": "margin cash × its haircut"})
    outstanding = Money(metadata={"description": "face value of the pool's unpaid bills"})
    config_version = ma.fields.Integer(metadata={"description": "version the figures used"})
    computed_at = Timestamp()
    created_at = Timestamp()


class PoolListOut(PoolOut):
    org_code = ma.fields.String()
    org_name = ma.fields.String()


class PoolDetailOut(PoolListOut):
    deposit_available = Money(metadata={"description": "the enterprise's deposit, available"})
    config_in_force = ma.fields.Integer()


class OpenPoolIn(StrictSchema):
    org_id = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(min=1, max=2**53),
        metadata={"description": "bank staff: the enterprise org; an enterprise: omitted"},
    )


class AssetOut(ma.Schema):
    id = ma.fields.Integer()
    pool_id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": list(rules.ASSET_KINDS)})
    number = ma.fields.String()
    issuer_bank = ma.fields.String()
    amount = Money()
    maturity_date = ma.fields.Date()
    status = ma.fields.String(metadata={"enum": list(rules.ASSET_STATUSES)})
    eligible = ma.fields.Boolean()
    reasons = ma.fields.List(ma.fields.String())
    tier = ma.fields.String(allow_none=True)
    haircut_bp = ma.fields.Integer()
    value = Money(metadata={"description": "amount × haircut while pledged and eligible"})
    created_at = Timestamp()
    pledged_at = Timestamp(allow_none=True)
    matured_at = Timestamp(allow_none=True)


class AssetArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(rules.ASSET_STATUSES))


class AssetIn(StrictSchema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(rules.ASSET_KINDS))
    number = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$"),
        metadata={"description": "e-bill number or certificate number, unique in the bank"},
    )
    issuer_bank = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_]{1,40}$")
    )
    amount = Money(required=True, validate=POSITIVE)
    maturity_date = ma.fields.Date(required=True)
    pledge = ma.fields.Boolean(load_default=False)


class AmountIn(StrictSchema):
    amount = Money(required=True, validate=POSITIVE)


class MovementOut(ma.Schema):
    id = ma.fields.Integer()
    at = Timestamp()
    kind = ma.fields.String()
    amount = Money()
    reference = ma.fields.String()
    capacity_after = Money()


class BillOut(ma.Schema):
    id = ma.fields.Integer()
    bill_no = ma.fields.String()
    pool_id = ma.fields.Integer()
    payee = ma.fields.String()
    amount = Money()
    fee = Money()
    margin = Money()
    issue_date = ma.fields.Date()
    maturity_date = ma.fields.Date()
    status = ma.fields.String(metadata={"enum": list(rules.BILL_STATUSES)})
    config_version = ma.fields.Integer()
    paid_from_margin = Money()
    paid_from_deposit = Money()
    advanced = Money()
    created_at = Timestamp()
    paid_at = Timestamp(allow_none=True)


class BillArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(rules.BILL_STATUSES))


class BillIn(StrictSchema):
    payee = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    amount = Money(required=True, validate=POSITIVE)
    maturity_date = ma.fields.Date(required=True)


class LadderArgs(StrictSchema):
    granularity = ma.fields.String(
        load_default="week", validate=ma.validate.OneOf(("week", "month"))
    )
    periods = ma.fields.Integer(load_default=12, validate=ma.validate.Range(min=1, max=52))


class LadderPointOut(ma.Schema):
    date = ma.fields.Date()
    pledged_value = Money()
    margin_cash = Money()
    outstanding = Money()
    capacity = Money()


class LadderOut(ma.Schema):
    pool_id = ma.fields.Integer()
    granularity = ma.fields.String()
    config_version = ma.fields.Integer()
    points = ma.fields.List(ma.fields.Nested(LadderPointOut))


class StatementArgs(PageArgs):
    date_from = ma.fields.Date(data_key="from", load_default=None)
    date_to = ma.fields.Date(data_key="to", load_default=None)


class StatementCsvArgs(StrictSchema):
    date_from = ma.fields.Date(data_key="from", load_default=None)
    date_to = ma.fields.Date(data_key="to", load_default=None)


class ConfigOut(ma.Schema):
    version = ma.fields.Integer()
    effective_at = Timestamp()
    values = ma.fields.Dict()
    note = ma.fields.String(allow_none=True)
    created_by = ma.fields.String(attribute="created_by_username")
    created_at = Timestamp()


class ConfigInForceOut(ma.Schema):
    version = ma.fields.Integer()
    values = ma.fields.Dict()


class ConfigIn(StrictSchema):
    values = ma.fields.Dict(
        required=True,
        metadata={"description": "fields to change over the version in force (see docs)"},
    )
    effective_at = ma.fields.AwareDateTime(load_default=None)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))
