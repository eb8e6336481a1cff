"""Collateral monitoring (``/api/v1/collateral``): credits' LTV and a loan's reported
outstanding, batch revaluation runs, market sales and the quarterly ratio studies.

A credit is seen through the property securing it (backend/collateral/access.py): an RM only
their own clients' (another's is 404), approvers and admins all. Views call
``backend.collateral.monitoring`` (write side) and its ``queries``.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from backend.collateral.avm.factors import DECORATIONS, ORIENTATIONS, PROPERTY_TYPES
from backend.collateral.monitoring import queries, service
from backend.collateral.monitoring.policy import CREDIT_KINDS, LEVELS
from backend.collateral.monitoring.sales import MAX_BATCH
from miniapp_api.common import (
    Money,
    PageArgs,
    StrictSchema,
    Timestamp,
    current_actor,
    db,
    key_in_request_transaction,
    page_schema,
)
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "collateral_monitoring",
    __name__,
    url_prefix="/api/v1/collateral",
    description="Collateral monitoring: LTV per credit, revaluation of the book, market sales "
    "and the quarterly IAAO ratio study",
)

QUARTER = ma.validate.Regexp(r"^[0-9]{4}Q[1-4]$", error="YYYYQn, e.g. 2026Q3")


# --------------------------------------------------------------------------- schemas


class CreditLtvOut(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "the credit link's id"})
    property_id = ma.fields.Integer()
    property_code = ma.fields.String()
    credit_kind = ma.fields.String(metadata={"enum": list(CREDIT_KINDS)})
    credit_ref = ma.fields.String()
    borrower_org_id = ma.fields.Integer()
    outstanding = Money()
    outstanding_at = Timestamp(allow_none=True)
    property_value = Money(allow_none=True)
    ltv_bp = ma.fields.Integer(allow_none=True, metadata={"description": "7000 = 70.00 %"})
    ltv_level = ma.fields.String(allow_none=True, metadata={"enum": [*LEVELS, None]})
    ltv_at = Timestamp(allow_none=True)
    rm_user_id = ma.fields.Integer(allow_none=True)
    rm_username = ma.fields.String(allow_none=True)
    warn_bp = ma.fields.Integer()
    alarm_bp = ma.fields.Integer()
    block_bp = ma.fields.Integer()


class LtvArgs(PageArgs):
    level = ma.fields.String(load_default=None, validate=ma.validate.OneOf(LEVELS))
    over = ma.fields.Boolean(
        load_default=False, metadata={"description": "only credits at warn or above"}
    )
    credit_kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(CREDIT_KINDS))


class OutstandingIn(StrictSchema):
    outstanding = Money(required=True, metadata={"description": "CNY, >= 0"})


class DistributionOut(ma.Schema):
    credits = ma.fields.Integer()
    levels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    buckets = ma.fields.List(ma.fields.Dict())
    policy = ma.fields.Dict()
    policy_version = ma.fields.Integer()


class RunOut(ma.Schema):
    id = ma.fields.Integer()
    run_key = ma.fields.String()
    model_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["running", "done", "failed"]})
    total = ma.fields.Integer()
    done = ma.fields.Integer()
    summary = ma.fields.Dict()
    started_by = ma.fields.String()
    started_at = Timestamp()
    finished_at = Timestamp(allow_none=True)


class RunIn(StrictSchema):
    run_key = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=60),
        metadata={"description": "resume this run (default: a new manual run)"},
    )


class SaleIn(StrictSchema):
    source_ref = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    city = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    district = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    community = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    # its range (more than 0, at most 10000) is checked by the service, row by row
    area_m2 = ma.fields.Decimal(
        required=True,
        metadata={"type": "number", "minimum": 0.01, "maximum": 10000},
    )
    floor = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(-5, 200))
    total_floors = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 200))
    build_year = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(1900, 2100)
    )
    orientation = ma.fields.String(required=True, validate=ma.validate.OneOf(ORIENTATIONS))
    decoration = ma.fields.String(required=True, validate=ma.validate.OneOf(DECORATIONS))
    rooms = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 20))
    property_type = ma.fields.String(required=True, validate=ma.validate.OneOf(PROPERTY_TYPES))
    price = Money(required=True)
    sale_date = ma.fields.Date(required=True)


class SalesIn(StrictSchema):
    sales = ma.fields.List(
        ma.fields.Nested(SaleIn), required=True, validate=ma.validate.Length(min=1, max=MAX_BATCH)
    )


class SalesOut(ma.Schema):
    received = ma.fields.Integer()
    imported = ma.fields.Integer()
    already_known = ma.fields.Integer()


class StudyOut(ma.Schema):
    id = ma.fields.Integer()
    quarter = ma.fields.String()
    model_id = ma.fields.Integer()
    model_version = ma.fields.Integer(allow_none=True)
    sales = ma.fields.Integer()
    metrics = ma.fields.Dict()
    alarms = ma.fields.List(ma.fields.Dict())
    created_at = Timestamp()


class StudyArgs(PageArgs):
    quarter = ma.fields.String(load_default=None, validate=QUARTER)


class StudyIn(StrictSchema):
    quarter = ma.fields.String(required=True, validate=QUARTER)


# --------------------------------------------------------------------------- views


@blp.route("/credits/<int:link_id>/outstanding")
class Outstanding(MethodView):
    @key_in_request_transaction
    @blp.arguments(OutstandingIn)
    @blp.response(200, CreditLtvOut)
    def put(self, body, link_id):
        """Report a loan's outstanding (bank staff who may change its property).

        Set on every link of the loan and its LTV recomputed (a rise to alarm or block raises
        a risk event); the same value again changes nothing. Floor-plan lines and factoring
        agreements are read from their products: 422 ``outstanding_read_from_product``."""
        session, actor = db(), current_actor()
        service.report_outstanding(session, actor, link_id, body["outstanding"])
        return queries.get_credit_ltv(session, actor, link_id)


@blp.route("/ltv")
class CreditsLtv(MethodView):
    @blp.arguments(LtvArgs, location="query")
    @blp.response(200, page_schema(CreditLtvOut, "CollateralCreditLtvPage"))
    def get(self, args):
        """Credits with their LTV (an RM their own clients'); ``over=true``: the alert list."""
        return queries.list_credit_ltv(db(), current_actor(), **args)


@blp.route("/ltv/distribution")
class LtvDistribution(MethodView):
    @blp.response(200, DistributionOut)
    def get(self):
        """Credits the caller may see by LTV bucket (10 points) and level, and the policy."""
        return queries.ltv_distribution(db(), current_actor())


@blp.route("/ltv/<int:link_id>")
class CreditLtv(MethodView):
    @blp.response(200, CreditLtvOut)
    def get(self, link_id):
        """One credit link's LTV (another RM's client's is 404)."""
        return queries.get_credit_ltv(db(), current_actor(), link_id)


@blp.route("/revaluations")
class Revaluations(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(RunOut, "CollateralRevaluationRunPage"))
    def get(self, args):
        """Revaluation runs with their progress (done of total), newest first."""
        return queries.list_runs(db(), current_actor(), **args)

    @blp.arguments(RunIn)
    @blp.response(200, RunOut)
    def post(self, body):
        """Approver or admin: revalue the book now, in this request (or resume ``run_key``).

        Commits every 50 properties, so ``GET /revaluations/{id}`` shows progress meanwhile
        and a broken request resumes with the same ``run_key``. The monthly job
        ``collateral.revalue`` does the same for large books."""
        factory = current_app.extensions["finedge"].session_factory
        result = service.start_revaluation(factory, current_actor(), body["run_key"])
        return queries.get_run(db(), current_actor(), result["id"])


@blp.route("/revaluations/<int:run_id>")
class RevaluationDetail(MethodView):
    @blp.response(200, RunOut)
    def get(self, run_id):
        """One revaluation run and its progress."""
        return queries.get_run(db(), current_actor(), run_id)


@blp.route("/sales")
class Sales(MethodView):
    @key_in_request_transaction
    @blp.arguments(SalesIn)
    @blp.response(201, SalesOut)
    def post(self, body):
        """Bank staff: import market sales (a re-sent ``source_ref`` is skipped).

        The whole batch is checked first: one bad sale refuses it (400, details per index)."""
        return service.import_sales(db(), current_actor(), body["sales"])


@blp.route("/ratio-studies")
class RatioStudies(MethodView):
    @blp.arguments(StudyArgs, location="query")
    @blp.response(200, page_schema(StudyOut, "CollateralRatioStudyPage"))
    def get(self, args):
        """Quarterly IAAO ratio studies of the champion on new sales, with their alarms."""
        return queries.list_ratio_studies(db(), current_actor(), **args)

    @key_in_request_transaction
    @blp.arguments(StudyIn)
    @blp.response(200, StudyOut)
    def post(self, body):
        """Approver or admin: run (or rerun) the ratio study of a quarter now."""
        session, actor = db(), current_actor()
        row = service.study_quarter(session, actor, body["quarter"])
        return queries.get_ratio_study(session, actor, row.id)
