"""The client 360 (``/api/v1/marketing/clients``): the list an RM or the marketing team may
see (filters tier, outlet, tag, q), one client's 360 (profile, AUM and tier, holdings with
maturities, the last transactions, tags, consent per channel and do-not-disturb hours,
events), and the client's contact consent.

An RM sees only their own clients (another's is 404), the marketing team and admins every
client, anyone else 403 (``backend.marketing.access``)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.marketing import clients
from backend.marketing.load import CHANNELS
from backend.marketing.models import EVENT_KINDS
from backend.marketing.synth import TIERS
from backend.platform.clock import utcnow
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
    "marketing_clients",
    __name__,
    url_prefix="/api/v1/marketing",
    description="Marketing client 360: clients, holdings, transactions, tags, consent, events",
)

HHMM_DOC = {"pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "21:00"}


class MktClientArgs(PageArgs):
    tier = ma.fields.String(load_default=None, validate=ma.validate.OneOf(TIERS))
    outlet = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=20))
    tag = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=40))
    q = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "a fragment of the name or the client number"},
    )


class MktClientOut(ma.Schema):
    id = ma.fields.Integer()
    client_no = ma.fields.String()
    name = ma.fields.String()
    tier = ma.fields.String(metadata={"enum": list(TIERS)})
    aum = Money()
    aum_on = ma.fields.Date()
    outlet = ma.fields.String()
    rm_user_id = ma.fields.Integer(allow_none=True)
    digital_active = ma.fields.Boolean()
    dormant = ma.fields.Boolean()
    tags = ma.fields.List(ma.fields.String())


class MktHoldingOut(ma.Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["demand", "time", "wealth", "loan"]})
    product_code = ma.fields.String()
    product_name = ma.fields.String()
    amount = Money()
    rate = Money(allow_none=True, metadata={"description": "annual rate, percent"})
    opened_on = ma.fields.Date()
    matures_on = ma.fields.Date(allow_none=True)
    days_to_maturity = ma.fields.Integer(allow_none=True)
    status = ma.fields.String()


class MktTransactionOut(ma.Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    at = Timestamp()
    amount = Money(metadata={"description": "signed: positive into the client's accounts"})
    kind = ma.fields.String()
    channel = ma.fields.String()


class MktTagOut(ma.Schema):
    tag = ma.fields.String()
    source = ma.fields.String(metadata={"enum": ["rule", "model"]})
    version = ma.fields.String()
    score = ma.fields.Float(allow_none=True)
    assigned_at = Timestamp()


class MktConsentOut(ma.Schema):
    channel = ma.fields.String(metadata={"enum": list(CHANNELS)})
    granted = ma.fields.Boolean()
    source = ma.fields.String(allow_none=True)
    recorded_at = Timestamp(allow_none=True)


class MktEventOut(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": list(EVENT_KINDS)})
    window_key = ma.fields.String()
    occurred_at = Timestamp()
    detected_at = Timestamp()
    amount = Money(allow_none=True)
    ref = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()


class MktClientDetailOut(MktClientOut):
    gender = ma.fields.String()
    age = ma.fields.Integer()
    opened_on = ma.fields.Date()
    risk_level = ma.fields.Integer()
    last_txn_at = Timestamp(allow_none=True)
    dnd_from = ma.fields.String(allow_none=True, metadata=HHMM_DOC)
    dnd_to = ma.fields.String(allow_none=True, metadata=HHMM_DOC)
    holdings = ma.fields.List(ma.fields.Nested(MktHoldingOut))
    transactions = ma.fields.List(ma.fields.Nested(MktTransactionOut))
    tag_details = ma.fields.List(ma.fields.Nested(MktTagOut))
    consents = ma.fields.List(ma.fields.Nested(MktConsentOut))
    events = ma.fields.List(ma.fields.Nested(MktEventOut))


class MktConsentIn(StrictSchema):
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    granted = ma.fields.Boolean(truthy={True}, falsy={False})
    dnd_from = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(HHMM_DOC["pattern"], error="HH:MM, 00:00 to 23:59"),
        metadata={**HHMM_DOC, "description": "no contact from (local time); null clears"},
    )
    dnd_to = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(HHMM_DOC["pattern"], error="HH:MM, 00:00 to 23:59"),
        metadata={**HHMM_DOC, "description": "... to (local time); null clears"},
    )


class MktConsentResultOut(ma.Schema):
    client_id = ma.fields.Integer()
    consents = ma.fields.List(ma.fields.Nested(MktConsentOut))
    dnd_from = ma.fields.String(allow_none=True, metadata=HHMM_DOC)
    dnd_to = ma.fields.String(allow_none=True, metadata=HHMM_DOC)


@blp.route("/clients")
class Clients(MethodView):
    @blp.arguments(MktClientArgs, location="query")
    @blp.response(200, page_schema(MktClientOut, "MarketingClientPage"))
    def get(self, args):
        """Clients the caller may see, by id: an RM their own, the marketing team every one.

        Filters: tier, outlet, tag (rule or model), q (a fragment of the name or number)."""
        return clients.list_clients(db(), current_actor(), **args)


@blp.route("/clients/<int:client_id>")
class ClientDetail(MethodView):
    @blp.response(200, MktClientDetailOut)
    def get(self, client_id):
        """One client's 360: profile, AUM and tier, holdings with maturities, the last 20
        transactions, tags, consent per channel and do-not-disturb hours, the last 50 events."""
        return clients.get_client_360(db(), current_actor(), client_id, utcnow().date())


@blp.route("/clients/<int:client_id>/consents")
class ClientConsents(MethodView):
    @blp.arguments(MktConsentIn)
    @blp.response(200, MktConsentResultOut)
    def put(self, body, client_id):
        """Record the client's consent on one channel (``channel`` and ``granted``) and/or
        their do-not-disturb hours (``dnd_from`` and ``dnd_to``, both or neither).

        The client's RM or the marketing team; audited."""
        return clients.set_consent(db(), current_actor(), client_id, now=utcnow(), **body)
