"""The factoring HTTP shapes. Money is a decimal string; rates are decimal strings ("0.9000")."""

from __future__ import annotations

import marshmallow as ma

from backend.factoring import rules
from miniapp_api.common import Money, PageArgs, StrictSchema, Timestamp, current_actor

RATE_DOC = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^[0-9]+\.[0-9]{4}$",
    "example": "0.9000",
}
RATE_IN = ma.validate.Regexp(r"^(0|1)(\.[0-9]{1,4})?$", error="a rate from 0 to 1, e.g. '0.90'")
ID = ma.validate.Range(min=1, max=2**63 - 1)


class Rate(ma.fields.Field):
    """Basis points shown as a decimal string ("0.9000")."""

    def __init__(self, *args, **kwargs):
        kwargs["metadata"] = {**RATE_DOC, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else rules.bp_to_ratio(value)


# --------------------------------------------------------------------------- out


class FctAgreementOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    core_id = ma.fields.Integer(attribute="core_org_id")
    limit = Money(attribute="limit_amount")
    financed_outstanding = Money()
    advance_rate = Rate(attribute="advance_rate_bp")
    interest_rate = Rate(attribute="interest_rate_bp", metadata={"description": "annual, 360 d"})
    fee_rate = Rate(attribute="fee_rate_bp")
    with_recourse = ma.fields.Boolean()
    valid_from = ma.fields.Date()
    valid_to = ma.fields.Date()
    status = ma.fields.String(metadata={"enum": list(rules.AGREEMENT_STATUSES)})
    created_at = Timestamp()


class FctSupplierOut(ma.Schema):
    id = ma.fields.Integer()
    agreement_id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    tier = ma.fields.Integer()
    counterparty_limit = Money()
    financed_outstanding = Money()
    admitted_via_payable_id = ma.fields.Integer(allow_none=True)
    admitted_at = Timestamp()


class FctPayableOut(ma.Schema):
    id = ma.fields.Integer()
    agreement_id = ma.fields.Integer()
    invoice_no = ma.fields.String()
    part_no = ma.fields.Integer()
    parent_id = ma.fields.Integer(allow_none=True)
    root_id = ma.fields.Integer(allow_none=True)
    debtor_id = ma.fields.Integer(attribute="debtor_org_id")
    creditor_id = ma.fields.Integer(attribute="creditor_org_id")
    holder_id = ma.fields.Integer(attribute="holder_org_id")
    transferred_from_id = ma.fields.Integer(attribute="transferred_from_org_id", allow_none=True)
    invoice_amount = Money()
    amount = Money()
    issue_date = ma.fields.Date()
    maturity_date = ma.fields.Date()
    status = ma.fields.String(metadata={"enum": list(rules.STATUSES)})
    registered_by = ma.fields.String()
    confirmed_at = Timestamp(allow_none=True)
    financed_at = Timestamp(allow_none=True)
    paid_at = Timestamp(allow_none=True)
    settled_at = Timestamp(allow_none=True)
    overdue_since = Timestamp(allow_none=True)


class FctPayableDetailOut(FctPayableOut):
    parts = ma.fields.List(
        ma.fields.Nested(FctPayableOut), metadata={"description": "visible parts"}
    )


class FctReasonOut(ma.Schema):
    code = ma.fields.String()
    message = ma.fields.String()
    party = ma.fields.String()
    headroom = ma.fields.String()
    internal = ma.fields.Dict(metadata={"description": "bank staff only: the blocking signals"})


class FctApplicationOut(ma.Schema):
    id = ma.fields.Integer()
    payable_id = ma.fields.Integer()
    agreement_id = ma.fields.Integer()
    applicant_id = ma.fields.Integer(attribute="applicant_org_id")
    debtor_id = ma.fields.Integer(attribute="debtor_org_id")
    amount = Money()
    advance_amount = Money()
    interest = Money()
    fee = Money()
    disbursed = Money()
    days = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["approved", "refused"]})
    reasons = ma.fields.Method("_reasons", metadata={"type": "array", "items": {"type": "object"}})
    transfer_id = ma.fields.String(allow_none=True)
    created_at = Timestamp()

    def _reasons(self, obj):
        staff = current_actor().is_bank_staff
        return [
            FctReasonOut().dump(r if staff else {k: v for k, v in r.items() if k != "internal"})
            for r in obj.reasons
        ]


class FctRecourseOut(ma.Schema):
    id = ma.fields.Integer()
    payable_id = ma.fields.Integer()
    supplier_id = ma.fields.Integer(attribute="supplier_org_id")
    amount = Money()
    collected = Money()
    outstanding = Money()
    collections = ma.fields.Integer()
    status = ma.fields.String()
    transfer_id = ma.fields.String()
    created_at = Timestamp()
    closed_at = Timestamp(allow_none=True)


class FctDepositOut(ma.Schema):
    transfer_id = ma.fields.String()
    amount = Money()


class FctBalanceOut(ma.Schema):
    org_id = ma.fields.Integer()
    posted = Money(allow_none=True)
    available = Money(allow_none=True)


# --------------------------------------------------------------------------- in


class FctAgreementIn(StrictSchema):
    core_id = ma.fields.Integer(required=True, validate=ID)
    limit = Money(required=True)
    advance_rate = ma.fields.String(required=True, validate=RATE_IN)
    interest_rate = ma.fields.String(required=True, validate=RATE_IN)
    fee_rate = ma.fields.String(required=True, validate=RATE_IN)
    with_recourse = ma.fields.Boolean(required=True)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(required=True)


class FctAgreementStatusIn(StrictSchema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(rules.AGREEMENT_STATUSES))


class FctSupplierIn(StrictSchema):
    org_id = ma.fields.Integer(required=True, validate=ID)
    counterparty_limit = Money(required=True)


class FctPayableIn(StrictSchema):
    invoice_no = ma.fields.String(required=True, validate=ma.validate.Regexp(rules.INVOICE_RE))
    amount = Money(required=True)
    issue_date = ma.fields.Date(required=True)
    maturity_date = ma.fields.Date(required=True)
    creditor_id = ma.fields.Integer(
        load_default=None, validate=ID, metadata={"description": "core enterprise: the supplier"}
    )
    debtor_id = ma.fields.Integer(
        load_default=None, validate=ID, metadata={"description": "supplier: the core enterprise"}
    )


class FctTransferIn(StrictSchema):
    to_org_id = ma.fields.Integer(required=True, validate=ID)
    amount = Money(required=True)


class FctDepositIn(StrictSchema):
    org_id = ma.fields.Integer(required=True, validate=ID)
    amount = Money(required=True)
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))


class FctPayableArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(rules.STATUSES))
    role = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("held", "owed")))


class FctApplicationArgs(PageArgs):
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(("approved", "refused"))
    )
    payable_id = ma.fields.Integer(load_default=None, validate=ID)


class FctCollectIn(StrictSchema):
    amount = Money(load_default=None)


class FctRecourseArgs(PageArgs):
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(("open", "collected", "repaid"))
    )
