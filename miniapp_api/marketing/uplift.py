"""Campaign evaluation, the uplift model registry and lists, and RM KPIs
(``/api/v1/marketing``; docs/marketing.md "Evaluation", "Uplift model", "KPIs").

- ``GET /campaigns/{id}/evaluation``: the team sees the whole campaign; an RM the same figures
  over their own clients only (``scope: "own_clients"``); others 403.
- ``/uplift/models``: the marketing team (and admins) train, list, promote and pick lists.
- ``GET /kpis?level=rm|outlet|branch|head_office``: an RM their own ``rm`` row only (another
  level is 403 ``kpi_level_forbidden``); the team every level.

Views call ``backend.marketing.uplift.queries``/``store`` and ``backend.marketing.kpi``.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.marketing import kpi
from backend.marketing.uplift import queries, store
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
    "marketing_uplift",
    __name__,
    url_prefix="/api/v1/marketing",
    description="Marketing: campaign evaluation, uplift models and lists, RM KPIs",
)

ID = ma.validate.Range(min=1, max=2**63 - 1)


def _float(**kw):
    return ma.fields.Float(allow_none=True, **kw)


# --------------------------------------------------------------------------- evaluation


class MarketingArmOut(ma.Schema):
    n = ma.fields.Integer()
    conversions = ma.fields.Integer()
    rate = _float()


class MarketingArmsOut(ma.Schema):
    treatment = ma.fields.Nested(MarketingArmOut)
    control = ma.fields.Nested(MarketingArmOut)


class MarketingIntervalOut(ma.Schema):
    uplift = _float(metadata={"description": "treated rate minus control rate"})
    low = _float()
    high = _float()
    level = ma.fields.Float()
    method = ma.fields.String(metadata={"enum": ["newcombe"]})


class MarketingUpliftAtKOut(MarketingIntervalOut):
    k = ma.fields.Float(metadata={"description": "the top fraction by the list's score"})
    n = ma.fields.Integer()
    n_treatment = ma.fields.Integer()
    n_control = ma.fields.Integer()


class MarketingQiniOut(ma.Schema):
    x = ma.fields.List(ma.fields.Float(), metadata={"description": "fraction targeted"})
    qini = ma.fields.List(
        ma.fields.Float(), metadata={"description": "incremental conversions per client"}
    )
    random = ma.fields.List(ma.fields.Float(), metadata={"description": "random targeting"})
    auuc = ma.fields.Float()
    random_auuc = ma.fields.Float()
    auuc_ratio = _float()
    qini_coefficient = ma.fields.Float()
    n = ma.fields.Integer()


class MarketingAumArmOut(ma.Schema):
    n = ma.fields.Integer()
    aum_before = Money()
    aum_now = Money()
    growth = _float(metadata={"description": "AUM now / AUM at assignment - 1"})


class MarketingWelchOut(ma.Schema):
    treatment_mean = _float()
    control_mean = _float()
    n_treatment = ma.fields.Integer()
    n_control = ma.fields.Integer()
    difference = _float()
    low = _float()
    high = _float()
    df = _float()
    level = ma.fields.Float()
    method = ma.fields.String(metadata={"enum": ["welch"]})


class MarketingAumGrowthOut(ma.Schema):
    treatment = ma.fields.Nested(MarketingAumArmOut)
    control = ma.fields.Nested(MarketingAumArmOut)
    mean_growth_difference = ma.fields.Nested(MarketingWelchOut)


class MarketingTierUpArmOut(ma.Schema):
    n = ma.fields.Integer()
    tier_ups = ma.fields.Integer()
    rate = _float()


class MarketingRatioOut(ma.Schema):
    ratio = _float()
    low = _float()
    high = _float()
    level = ma.fields.Float()
    method = ma.fields.String(metadata={"enum": ["katz_log"]})


class MarketingTierUpOut(ma.Schema):
    treatment = ma.fields.Nested(MarketingTierUpArmOut)
    control = ma.fields.Nested(MarketingTierUpArmOut)
    ratio = ma.fields.Nested(MarketingRatioOut)


class MarketingTierEvaluationOut(ma.Schema):
    tier = ma.fields.String()
    arms = ma.fields.Nested(MarketingArmsOut)
    uplift = ma.fields.Nested(MarketingIntervalOut)


class CampaignEvaluationOut(ma.Schema):
    campaign_id = ma.fields.Integer()
    code = ma.fields.String()
    target_indicator = ma.fields.String()
    status = ma.fields.String()
    control_share = ma.fields.Float()
    scope = ma.fields.String(metadata={"enum": ["all", "own_clients"]})
    clients = ma.fields.Integer()
    arms = ma.fields.Nested(MarketingArmsOut)
    uplift = ma.fields.Nested(MarketingIntervalOut)
    qini = ma.fields.Nested(MarketingQiniOut, allow_none=True)
    uplift_at_k = ma.fields.List(ma.fields.Nested(MarketingUpliftAtKOut))
    aum_growth = ma.fields.Nested(MarketingAumGrowthOut)
    tier_up = ma.fields.Nested(MarketingTierUpOut)
    by_tier = ma.fields.List(ma.fields.Nested(MarketingTierEvaluationOut))


@blp.route("/campaigns/<int:campaign_id>/evaluation")
class CampaignEvaluation(MethodView):
    @blp.response(200, CampaignEvaluationOut)
    def get(self, campaign_id):
        """A campaign's evaluation: uplift with its interval, Qini, AUM growth, tier-up.

        Per arm counts and conversion rates, the uplift with Newcombe's 95% interval, the
        Qini curve (101 points) and AUUC against random targeting over the list's scores,
        uplift at 10/20/30/50%, AUM growth against control (Welch's interval), tier-up per
        arm and its ratio, and per tier. An RM gets the figures over their own clients only
        (``scope: own_clients``)."""
        return queries.campaign_evaluation(db(), current_actor(), campaign_id)


# --------------------------------------------------------------------------- models, lists


class UpliftModelOut(ma.Schema):
    id = ma.fields.Integer()
    version = ma.fields.Integer()
    method = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(store.STATUSES)})
    trained_on = ma.fields.List(ma.fields.String(), metadata={"description": "campaign codes"})
    features = ma.fields.List(ma.fields.String())
    metrics = ma.fields.Dict(
        metadata={"description": "held-out Qini/AUUC of the chosen and compared learners"}
    )
    artifact_sha256 = ma.fields.String()
    created_at = Timestamp()


class UpliftModelArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(store.STATUSES))


class UpliftTrainIn(StrictSchema):
    campaigns = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "campaign codes (default: every launched or ended one)"},
    )
    method = ma.fields.String(load_default="best", validate=ma.validate.OneOf(store.METHODS))
    holdout = ma.fields.Float(
        load_default=0.3, allow_nan=False, validate=ma.validate.Range(min=0.05, max=0.5)
    )
    seed = ma.fields.Integer(strict=True, load_default=0, validate=ma.validate.Range(0, 2**31 - 1))
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(("champion", "challenger"))
    )


class UpliftListIn(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    top = ma.fields.Integer(
        strict=True, required=True, validate=ma.validate.Range(min=1, max=store.MAX_TOP)
    )


class UpliftListOut(ma.Schema):
    segment_id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["model"]})
    definition = ma.fields.Dict(metadata={"description": '{"model": "uplift", "model_id", "top"}'})
    size = ma.fields.Integer()


@blp.route("/uplift/models")
class UpliftModels(MethodView):
    @blp.arguments(UpliftModelArgs, location="query")
    @blp.response(200, page_schema(UpliftModelOut, "UpliftModelPage"))
    def get(self, args):
        """The uplift model registry, newest first (marketing team)."""
        return store.list_models(db(), current_actor(), **args)

    @blp.arguments(UpliftTrainIn)
    @blp.response(201, UpliftModelOut)
    def post(self, body):
        """Retrain the uplift model on campaign results (marketing team).

        Fits the meta-learners on the campaigns' assignments and conversions, measures each
        on held-out clients and registers the best (or ``method``); too few results is 422
        ``not_enough_results``."""
        return store.train(
            db(),
            current_actor(),
            campaign_codes=body.get("campaigns"),
            method=body["method"],
            holdout=body["holdout"],
            seed=body["seed"],
            status=body["status"],
        )


@blp.route("/uplift/models/<int:model_id>")
class UpliftModelDetail(MethodView):
    @blp.response(200, UpliftModelOut)
    def get(self, model_id):
        """One uplift model with its held-out metrics."""
        return store.get_model(db(), current_actor(), model_id)


@blp.route("/uplift/models/<int:model_id>/promote")
class UpliftModelPromote(MethodView):
    @blp.response(200, UpliftModelOut)
    def post(self, model_id):
        """Make this model the champion; the old champion is retired (audited)."""
        return store.promote(db(), current_actor(), model_id)


@blp.route("/uplift/models/<int:model_id>/list")
class UpliftModelList(MethodView):
    @blp.arguments(UpliftListIn)
    @blp.response(201, UpliftListOut)
    def post(self, body, model_id):
        """Freeze the top clients by predicted uplift as a model segment (the next list).

        A segment of kind ``model`` with its members and their predicted uplift in
        ``mkt_segment_members``; a name already taken is 409 ``segment_name_taken``."""
        segment, size = store.make_list(
            db(), current_actor(), model_id, name=body["name"], top=body["top"]
        )
        return {
            "segment_id": segment.id,
            "name": segment.name,
            "kind": segment.kind,
            "definition": segment.definition,
            "size": size,
        }


# --------------------------------------------------------------------------- KPIs


class MarketingKpiMetricOut(ma.Schema):
    value = _float(metadata={"description": "a count, or a pooled rate (0..1)"})
    points = ma.fields.Float()
    numerator = ma.fields.Integer(metadata={"description": "rates only"})
    denominator = ma.fields.Integer(metadata={"description": "rates only"})


class MarketingKpiMetricsOut(ma.Schema):
    incremental_conversions = ma.fields.Nested(MarketingKpiMetricOut)
    calls = ma.fields.Nested(MarketingKpiMetricOut)
    sms = ma.fields.Nested(MarketingKpiMetricOut)
    opportunity_completion = ma.fields.Nested(MarketingKpiMetricOut)
    reach_rate = ma.fields.Nested(MarketingKpiMetricOut)


class MarketingKpiOut(ma.Schema):
    level = ma.fields.String(metadata={"enum": list(kpi.LEVELS)})
    key = ma.fields.String(metadata={"description": "RM user id, outlet or branch code"})
    name = ma.fields.String()
    points = ma.fields.Float()
    campaigns = ma.fields.Integer()
    metrics = ma.fields.Nested(MarketingKpiMetricsOut)


class MarketingKpiArgs(PageArgs):
    level = ma.fields.String(load_default="rm", validate=ma.validate.OneOf(kpi.LEVELS))
    campaign_id = ma.fields.Integer(load_default=None, validate=ID)


@blp.route("/kpis")
class MarketingKpis(MethodView):
    @blp.arguments(MarketingKpiArgs, location="query")
    @blp.response(200, page_schema(MarketingKpiOut, "MarketingKpiPage"))
    def get(self, args):
        """RM KPI points per RM, outlet, branch or head office.

        Incremental conversions (treated minus the control rate of the client's tier) and
        the activity KPIs (calls, SMS, opportunity completion, reach rate) with their points
        (``backend/marketing/kpi_points.yaml``). An RM reads their own ``rm`` row only."""
        return kpi.rollup_page(
            db(),
            current_actor(),
            args["level"],
            campaign_id=args["campaign_id"],
            limit=args["limit"],
            cursor=args["cursor"],
        )
