"""Online valuation and the AVM model registry (``/api/v1/collateral/valuations``,
``/api/v1/collateral/models``): bank staff who value collateral (rm, approver, admin).

A valuation is of facts in the body, or of a registered property the caller may see
(``{"property_id": N}``; another RM's client's property is 404). Money is a decimal string in
CNY; ``confidence_sd`` is the forecast SD of the log value; ``low``/``high`` the 80% interval.
Views call ``backend.collateral.valuer`` and ``backend.collateral.modelstore``.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.collateral import modelstore, valuer
from backend.collateral.avm import factors
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
    "collateral_valuations",
    __name__,
    url_prefix="/api/v1/collateral",
    description="Collateral: online valuation (AVM) and the model registry",
)

ID = ma.validate.Range(min=1, max=2**63 - 1)
NUMBER_DOC = {"type": "number"}


# --------------------------------------------------------------------------- shapes


class CollateralValuationIn(StrictSchema):
    property_id = ma.fields.Integer(
        strict=True,
        validate=ID,
        metadata={"description": "a registered property (then no facts)"},
    )
    city = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    district = ma.fields.String(validate=ma.validate.Length(max=60))
    community = ma.fields.String(validate=ma.validate.Length(max=120))
    address = ma.fields.String(validate=ma.validate.Length(max=300))
    area_m2 = ma.fields.Decimal(
        places=None,
        allow_nan=False,
        metadata={"description": "square metres (number or decimal string), more than 0"},
    )
    floor = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=-5, max=300))
    total_floors = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=300))
    build_year = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1800, max=9999))
    orientation = ma.fields.String(validate=ma.validate.OneOf(factors.ORIENTATIONS))
    decoration = ma.fields.String(validate=ma.validate.OneOf(factors.DECORATIONS))
    rooms = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=100))
    property_type = ma.fields.String(validate=ma.validate.OneOf(factors.PROPERTY_TYPES))
    lat = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-90, max=90))
    lon = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-180, max=180))

    @ma.validates_schema
    def _one_or_other(self, data, **_kwargs):
        if "property_id" in data and len(data) > 1:
            raise ma.ValidationError(
                "give either property_id or the facts, not both", field_name="property_id"
            )
        if "property_id" not in data:
            missing = [f for f in valuer.REQUIRED if f not in data]
            if missing:
                raise ma.ValidationError({f: ["required"] for f in missing})


class CollateralValuationOut(ma.Schema):
    id = ma.fields.Integer()
    property_id = ma.fields.Integer(allow_none=True)
    run_id = ma.fields.Integer(allow_none=True)
    model_id = ma.fields.Integer()
    model_version = ma.fields.Function(
        lambda v: (v.breakdown or {}).get("model_version"), metadata={"type": "integer"}
    )
    purpose = ma.fields.String(metadata={"enum": list(valuer.PURPOSES)})
    inputs = ma.fields.Dict(metadata={"description": "the facts valued"})
    value = Money()
    low = Money(attribute="value_low", metadata={"description": "80% interval, low end"})
    high = Money(attribute="value_high", metadata={"description": "80% interval, high end"})
    confidence_sd = ma.fields.Float(metadata={"description": "forecast SD of the log value"})
    confidence = ma.fields.Function(
        valuer.confidence_of, metadata={"type": "string", "enum": ["high", "medium", "low"]}
    )
    blend = ma.fields.Dict(metadata={"description": "method -> weight (sums to 1)"})
    methods = ma.fields.Function(
        lambda v: (v.breakdown or {}).get("methods", {}),
        metadata={"type": "object", "description": "method -> value (decimal string)"},
    )
    breakdown = ma.fields.Dict(
        metadata={
            "description": "the comparison method: community base price per m², area, then "
            "the floor, orientation, age, size and decoration corrections "
            "({factor, label, coefficient, amount}) summing to comparison_value; notes"
        }
    )
    requested_by_user_id = ma.fields.Integer(allow_none=True)
    created_at = Timestamp()


class CollateralValuationArgs(PageArgs):
    property_id = ma.fields.Integer(load_default=None, validate=ID)


class AvmModelOut(ma.Schema):
    id = ma.fields.Integer()
    version = ma.fields.Integer()
    method = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(modelstore.STATUSES)})
    data_hash = ma.fields.String()
    trained_rows = ma.fields.Integer()
    feature_spec = ma.fields.Dict()
    metrics = ma.fields.Dict(metadata={"description": "held-out IAAO ratio studies"})
    artifact_sha256 = ma.fields.String()
    trained_by = ma.fields.String()
    trained_at = Timestamp()
    promoted_at = Timestamp(allow_none=True)


class AvmModelArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(modelstore.STATUSES))


# --------------------------------------------------------------------------- views


@blp.route("/valuations")
class Valuations(MethodView):
    @blp.arguments(CollateralValuationArgs, location="query")
    @blp.response(200, page_schema(CollateralValuationOut, "CollateralValuationPage"))
    def get(self, args):
        """The valuation log: an RM the ad-hoc valuations they asked for and their clients'
        properties'; approvers and admins all. Newest first."""
        return valuer.list_valuations(db(), current_actor(), **args)

    @blp.arguments(CollateralValuationIn)
    @blp.response(201, CollateralValuationOut)
    def post(self, body):
        """Value a property now: facts, or a registered property (``property_id``).

        The champion model's value, an 80% range, the confidence (forecast SD of the log
        value from held-out residuals), the blend of methods and the comparison method's
        itemised breakdown; logged with the inputs and the model. Bad facts and a city the
        model does not cover are 400 with details; no model yet is 422 ``no_avm_model``."""
        property_id = body.pop("property_id", None)
        return valuer.value_facts(
            db(), current_actor(), None if property_id else body, property_id=property_id
        )


@blp.route("/valuations/<int:valuation_id>")
class ValuationDetail(MethodView):
    @blp.response(200, CollateralValuationOut)
    def get(self, valuation_id):
        """One valuation (404 unless the caller may see it)."""
        return valuer.get_valuation(db(), current_actor(), valuation_id)


@blp.route("/models")
class Models(MethodView):
    @blp.arguments(AvmModelArgs, location="query")
    @blp.response(200, page_schema(AvmModelOut, "CollateralModelPage"))
    def get(self, args):
        """The AVM model registry, newest first (champion, challengers, retired)."""
        return modelstore.list_models(db(), current_actor(), **args)


@blp.route("/models/<int:model_id>")
class ModelDetail(MethodView):
    @blp.response(200, AvmModelOut)
    def get(self, model_id):
        """One model: version, training data hash, feature spec and held-out metrics."""
        return modelstore.get_model(db(), current_actor(), model_id)


@blp.route("/models/<int:model_id>/promote")
class PromoteModel(MethodView):
    @blp.response(200, AvmModelOut)
    def post(self, model_id):
        """Admin: make this model the champion (the old one is retired)."""
        return modelstore.promote(db(), current_actor(), model_id)
