"""The collateral registry's HTTP shapes. Money is a decimal string; a property's area is a
decimal string of square metres with two places ("89.50") in responses and a number or such a
string in requests; LTV is integer basis points (7000 = 70.00%)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import marshmallow as ma

from backend.collateral.avm.factors import DECORATIONS, ORIENTATIONS, PROPERTY_TYPES
from backend.collateral.service.registry import CREDIT_KINDS, DOCUMENT_KINDS, REGISTERED
from miniapp_api.collateral.valuations import CollateralValuationOut
from miniapp_api.common import Money, PageArgs, StrictSchema, Timestamp

ID = ma.validate.Range(min=1, max=2**63 - 1)
AREA_DOC = {"type": "string", "format": "decimal", "pattern": r"^[0-9]+\.[0-9]{2}$"}


class AreaM2(ma.fields.Field):
    """Square metres: a number or a decimal string in, a decimal string with two places out."""

    def __init__(self, *args, **kwargs):
        kwargs["metadata"] = {
            "oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}],
            "example": 89.5,
            **kwargs.get("metadata", {}),
        }
        super().__init__(*args, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{Decimal(value):.2f}"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ma.ValidationError("a number of square metres")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ma.ValidationError("a number of square metres") from None
        if not number.is_finite():
            raise ma.ValidationError("a finite number")
        return number


class AreaOut(ma.fields.Field):
    def __init__(self, *args, **kwargs):
        kwargs["metadata"] = {**AREA_DOC, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{Decimal(value):.2f}"


def _int(**kw):
    return ma.fields.Integer(strict=True, **kw)


# --------------------------------------------------------------------------- out


class ColPropertyOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    owner_org_id = ma.fields.Integer()
    owner_name = ma.fields.String()
    rm_user_id = ma.fields.Integer(allow_none=True)
    city = ma.fields.String()
    district = ma.fields.String()
    community = ma.fields.String()
    address = ma.fields.String()
    area_m2 = AreaOut()
    floor = ma.fields.Integer()
    total_floors = ma.fields.Integer()
    build_year = ma.fields.Integer()
    orientation = ma.fields.String(metadata={"enum": list(ORIENTATIONS)})
    decoration = ma.fields.String(metadata={"enum": list(DECORATIONS)})
    rooms = ma.fields.Integer()
    property_type = ma.fields.String(metadata={"enum": list(PROPERTY_TYPES)})
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    status = ma.fields.String(metadata={"enum": ["active", "released"]})
    latest_valuation_id = ma.fields.Integer(allow_none=True)
    latest_value = Money(allow_none=True)
    latest_valued_at = Timestamp(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()


class ColCreditLinkOut(ma.Schema):
    id = ma.fields.Integer()
    property_id = ma.fields.Integer()
    credit_kind = ma.fields.String(metadata={"enum": list(CREDIT_KINDS)})
    credit_ref = ma.fields.String()
    borrower_org_id = ma.fields.Integer()
    third_party = ma.fields.Boolean(
        metadata={"description": "the property's owner is not the borrower"}
    )
    outstanding = Money()
    outstanding_at = Timestamp(allow_none=True)
    ltv_bp = ma.fields.Integer(allow_none=True, metadata={"description": "7000 = 70.00%"})
    ltv_level = ma.fields.String(
        allow_none=True, metadata={"enum": ["ok", "warn", "alarm", "block", None]}
    )
    ltv_at = Timestamp(allow_none=True)
    status = ma.fields.String(metadata={"enum": ["active", "released"]})
    created_at = Timestamp()


class ColRegistrationOut(ma.Schema):
    id = ma.fields.Integer()
    property_id = ma.fields.Integer()
    credit_link_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(metadata={"enum": ["pending", "registered", "rejected", "released"]})
    certificate_no = ma.fields.String()
    registered_on = ma.fields.Date()
    maker_user_id = ma.fields.Integer()
    checker_user_id = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    decided_at = Timestamp(allow_none=True)


class ColDocumentOut(ma.Schema):
    id = ma.fields.Integer()
    property_id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": list(DOCUMENT_KINDS)})
    uri = ma.fields.String()
    sha256 = ma.fields.String()
    added_by_user_id = ma.fields.Integer()
    added_at = Timestamp()


class ColPropertyDetailOut(ColPropertyOut):
    credits = ma.fields.List(ma.fields.Nested(ColCreditLinkOut))
    registrations = ma.fields.List(ma.fields.Nested(ColRegistrationOut))
    documents = ma.fields.List(ma.fields.Nested(ColDocumentOut))
    latest_valuation = ma.fields.Nested(CollateralValuationOut, allow_none=True)
    valuations = ma.fields.List(
        ma.fields.Nested(CollateralValuationOut), metadata={"description": "newest first, 20"}
    )


# --------------------------------------------------------------------------- in


class _Facts(StrictSchema):
    city = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    district = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    community = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    address = ma.fields.String(validate=ma.validate.Length(min=1, max=300))
    area_m2 = AreaM2()
    floor = _int()
    total_floors = _int()
    build_year = _int()
    orientation = ma.fields.String(validate=ma.validate.OneOf(ORIENTATIONS))
    decoration = ma.fields.String(validate=ma.validate.OneOf(DECORATIONS))
    rooms = _int()
    property_type = ma.fields.String(validate=ma.validate.OneOf(PROPERTY_TYPES))
    lat = ma.fields.Float(allow_none=True, allow_nan=False)
    lon = ma.fields.Float(allow_none=True, allow_nan=False)
    owner_name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    rm_user_id = _int(allow_none=True, validate=ID)


REQUIRED_IN = ("address", *REGISTERED)  # what the service requires of a registered property


class ColPropertyIn(_Facts):
    owner_org_id = _int(required=True, validate=ID)
    code = ma.fields.String(validate=ma.validate.Length(min=3, max=40))

    @ma.validates_schema
    def _required(self, data, **kwargs):
        missing = [k for k in REQUIRED_IN if k not in data]
        if missing:
            raise ma.ValidationError({k: ["Missing data for required field."] for k in missing})


class ColPropertyPatchIn(_Facts):
    """Any of the facts, the address, the owner's name, the RM (approvers and admins)."""


class ColPropertyArgs(PageArgs):
    city = ma.fields.String(load_default=None, validate=ma.validate.Length(max=40))
    community = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))
    rm_user_id = ma.fields.Integer(load_default=None, validate=ID)
    owner_org_id = ma.fields.Integer(load_default=None, validate=ID)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("active", "released")))


class ColCreditLinkIn(StrictSchema):
    credit_kind = ma.fields.String(required=True, validate=ma.validate.OneOf(CREDIT_KINDS))
    credit_ref = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=60),
        metadata={"description": "floor-plan line id, factoring agreement code or loan number"},
    )
    outstanding = Money(load_default=None, metadata={"description": "a loan's, as reported"})
    borrower_org_id = _int(load_default=None, validate=ID, metadata={"description": "a loan's"})


class ColRegistrationIn(StrictSchema):
    certificate_no = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    registered_on = ma.fields.Date(required=True)
    credit_link_id = _int(load_default=None, validate=ID)


class ColRejectIn(StrictSchema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))


class ColDocumentIn(StrictSchema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(DOCUMENT_KINDS))
    uri = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    sha256 = ma.fields.String(required=True, validate=ma.validate.Length(equal=64))


class ColRegistrationArgs(PageArgs):
    status = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(("pending", "registered", "rejected", "released")),
    )
