"""Campaigns (``/api/v1/marketing/campaigns``): the marketing team's (roles marketing, admin).

Create and edit a draft, see the power of its test before launch, launch it (the stratified
3:1 assignment, kept for ever), and follow it: arms per tier, contacts sent and refused by
reason, RM tasks by status, conversions per arm. Money is a decimal string; dates are
``YYYY-MM-DD``. Views call ``backend.marketing.campaigns.service`` and ``queries``.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.marketing.campaigns import queries, service
from backend.marketing.campaigns.templates import MAX_CHARS
from backend.marketing.contact import CHANNELS
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
    "marketing_campaigns",
    __name__,
    url_prefix="/api/v1/marketing",
    description="Marketing: campaigns with a stratified holdout and the power of their test",
)

ID = ma.validate.Range(min=1, max=2**63 - 1)


def _draft_fields(full: bool) -> dict:
    """The draft's fields: required with defaults (create) or all optional (edit)."""

    def req(default=ma.missing):
        if full:
            return {"required": True} if default is ma.missing else {"load_default": default}
        return {}

    return {
        "code": ma.fields.String(
            validate=ma.validate.Regexp(service.CODE),
            metadata={"description": "unique: 2-40 of A-Z 0-9 - _"},
            **req(),
        ),
        "name": ma.fields.String(validate=ma.validate.Length(min=1, max=120), **req()),
        "target_indicator": ma.fields.String(validate=ma.validate.OneOf(service.TARGETS), **req()),
        "segment_id": ma.fields.Integer(strict=True, allow_none=True, validate=ID, **req(None)),
        "product_code": ma.fields.String(
            allow_none=True, validate=ma.validate.Length(min=1, max=30), **req(None)
        ),
        "script": ma.fields.String(validate=ma.validate.Length(max=4000), **req("")),
        "sms_template": ma.fields.String(
            validate=ma.validate.Length(max=MAX_CHARS),
            metadata={"description": "placeholders {name} {product} {ends_on} {outlet}"},
            **req(""),
        ),
        "channels": ma.fields.List(
            ma.fields.String(validate=ma.validate.OneOf(CHANNELS)),
            validate=ma.validate.Length(min=1, max=len(CHANNELS)),
            **req(),
        ),
        "starts_on": ma.fields.Date(**req()),
        "ends_on": ma.fields.Date(**req()),
        "budget": Money(**req()),
        "cost_per_contact": Money(**req()),
        "control_share": ma.fields.Float(
            allow_nan=False, validate=ma.validate.Range(min=0.05, max=0.5), **req(0.25)
        ),
        "target_uplift": ma.fields.Float(
            allow_nan=False,
            validate=ma.validate.Range(min=0.001, max=0.5),
            metadata={"description": "the uplift (rate points) the test should detect"},
            **req(service.DEFAULT_TARGET_UPLIFT),
        ),
        "seed": ma.fields.Integer(
            strict=True,
            validate=ma.validate.Range(min=0, max=2**62),
            metadata={"description": "the assignment's random seed (default: drawn)"},
        ),
    }


MarketingCampaignIn = type("MarketingCampaignIn", (StrictSchema,), _draft_fields(True))
MarketingCampaignPatch = type("MarketingCampaignPatch", (StrictSchema,), _draft_fields(False))


class MarketingCampaignOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    target_indicator = ma.fields.String(metadata={"enum": list(service.TARGETS)})
    segment_id = ma.fields.Integer(allow_none=True)
    product_code = ma.fields.String(allow_none=True)
    script = ma.fields.String()
    sms_template = ma.fields.String()
    channels = ma.fields.List(ma.fields.String(metadata={"enum": list(CHANNELS)}))
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    budget = Money()
    cost_per_contact = Money()
    control_share = ma.fields.Float()
    seed = ma.fields.Integer()
    power = ma.fields.Dict(metadata={"description": "the power report stored at launch"})
    status = ma.fields.String(metadata={"enum": list(service.STATUSES)})
    created_by_user_id = ma.fields.Integer(allow_none=True)
    launched_by_user_id = ma.fields.Integer(allow_none=True)
    launched_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class MarketingCampaignDetailOut(ma.Schema):
    campaign = ma.fields.Nested(MarketingCampaignOut)
    segment_name = ma.fields.String(allow_none=True)
    arms = ma.fields.Dict(metadata={"description": "total {treatment, control} and per tier"})
    contacts = ma.fields.Dict(
        metadata={"description": "per channel: count per status or status:reason"}
    )
    tasks = ma.fields.Dict(metadata={"description": "by_status and by_outcome counts"})
    conversions = ma.fields.Dict(
        metadata={"description": "per kind: treatment, control, and their rates"}
    )


class MarketingPowerRowOut(ma.Schema):
    tier = ma.fields.String(metadata={"description": "per tier rows only"})
    treatment = ma.fields.Integer()
    control = ma.fields.Integer()
    power = ma.fields.Float()
    mde = ma.fields.Float(allow_none=True)


class MarketingPowerOut(ma.Schema):
    test = ma.fields.String()
    alpha = ma.fields.Float()
    target_power = ma.fields.Float()
    baseline_rate = ma.fields.Float()
    baseline_source = ma.fields.String(
        metadata={
            "enum": ["list_scores", "default"],
            "description": "the mean of the list's propensity scores, or the target's default",
        }
    )
    target_uplift = ma.fields.Float()
    control_share = ma.fields.Float()
    segment_frozen = ma.fields.Boolean()
    overall = ma.fields.Nested(MarketingPowerRowOut)
    tiers = ma.fields.List(ma.fields.Nested(MarketingPowerRowOut))
    computed_at = Timestamp(metadata={"description": "at launch only"})


class MarketingCampaignArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(service.STATUSES))


@blp.route("/campaigns")
class Campaigns(MethodView):
    @blp.arguments(MarketingCampaignArgs, location="query")
    @blp.response(200, page_schema(MarketingCampaignOut, "MarketingCampaignPage"))
    def get(self, args):
        """The campaigns, newest first (team only)."""
        return queries.list_campaigns(db(), current_actor(), **args)

    @blp.arguments(MarketingCampaignIn)
    @blp.response(201, MarketingCampaignOut)
    def post(self, body):
        """Create a draft campaign (team only; audited).

        The SMS template's placeholders are checked ({name} {product} {ends_on} {outlet});
        control_share 0.25 is the default 3:1 split. A segment named that does not exist is
        404; a code taken is 409."""
        return service.create_campaign(db(), current_actor(), body)


@blp.route("/campaigns/<int:campaign_id>")
class CampaignDetail(MethodView):
    @blp.response(200, MarketingCampaignDetailOut)
    def get(self, campaign_id):
        """One campaign and its figures: arms per tier, contacts by status and reason, tasks,
        conversions per arm."""
        return queries.campaign_detail(db(), current_actor(), campaign_id)

    @blp.arguments(MarketingCampaignPatch)
    @blp.response(200, MarketingCampaignOut)
    def patch(self, body, campaign_id):
        """Edit a draft (a launched campaign is 409 ``campaign_not_draft``; audited)."""
        return service.update_campaign(db(), current_actor(), campaign_id, body)


@blp.route("/campaigns/<int:campaign_id>/power")
class CampaignPower(MethodView):
    @blp.response(200, MarketingPowerOut)
    def get(self, campaign_id):
        """The power of the campaign's test: per tier and overall, the arms' sizes, the power
        to detect the target uplift (two-sided 5%) and the MDE at 80% power; for a launched
        campaign, the report stored at launch."""
        return service.power_of(db(), current_actor(), campaign_id)


@blp.route("/campaigns/<int:campaign_id>/launch")
class CampaignLaunch(MethodView):
    @blp.response(200, MarketingCampaignOut)
    def post(self, campaign_id):
        """Launch the draft: freeze the list, draw the stratified assignment (a persistent
        holdout), store the power. Again: 409 ``campaign_already_launched``; no frozen list:
        422 ``segment_not_frozen``; an empty list 422 ``segment_empty``."""
        return service.launch(db(), current_actor(), campaign_id)
