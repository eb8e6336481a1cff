"""RM tasks of campaigns (``/api/v1/marketing/tasks``): an RM sees and completes their own
(another RM's task is 404), the marketing team every one; others 403."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.marketing.campaigns import queries, service
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
    "marketing_tasks",
    __name__,
    url_prefix="/api/v1/marketing",
    description="Marketing: RM tasks (call, visit) of campaigns and their outcomes",
)

ID = ma.validate.Range(min=1, max=2**63 - 1)
TASK_STATUSES = ("open", "done", "cancelled")


class MarketingTaskOut(ma.Schema):
    id = ma.fields.Integer()
    campaign_id = ma.fields.Integer()
    client_id = ma.fields.Integer()
    rm_user_id = ma.fields.Integer(allow_none=True)
    kind = ma.fields.String(metadata={"enum": ["call", "sms", "visit"]})
    due_on = ma.fields.Date()
    status = ma.fields.String(metadata={"enum": list(TASK_STATUSES)})
    outcome = ma.fields.String(allow_none=True, metadata={"enum": list(service.OUTCOMES)})
    opportunity = ma.fields.Boolean()
    note = ma.fields.String()
    done_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class MarketingHoldingSummaryOut(ma.Schema):
    kind = ma.fields.String()
    product_code = ma.fields.String()
    product_name = ma.fields.String()
    amount = Money()
    matures_on = ma.fields.Date(allow_none=True)


class MarketingTaskClientOut(ma.Schema):
    id = ma.fields.Integer()
    client_no = ma.fields.String()
    name = ma.fields.String()
    tier = ma.fields.String()
    aum = Money()
    outlet = ma.fields.String()
    dnd_from = ma.fields.String(allow_none=True)
    dnd_to = ma.fields.String(allow_none=True)
    consents = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean())
    holdings = ma.fields.List(ma.fields.Nested(MarketingHoldingSummaryOut))


class MarketingTaskCampaignOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    target_indicator = ma.fields.String()
    product_code = ma.fields.String(allow_none=True)
    script = ma.fields.String()
    ends_on = ma.fields.Date()


class MarketingTaskDetailOut(ma.Schema):
    task = ma.fields.Nested(MarketingTaskOut)
    campaign = ma.fields.Nested(MarketingTaskCampaignOut)
    client = ma.fields.Nested(MarketingTaskClientOut)


class MarketingTaskArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(TASK_STATUSES))
    campaign_id = ma.fields.Integer(load_default=None, validate=ID)


class MarketingOutcomeIn(StrictSchema):
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(service.OUTCOMES))
    opportunity = ma.fields.Boolean(load_default=False)
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(MarketingTaskArgs, location="query")
    @blp.response(200, page_schema(MarketingTaskOut, "MarketingTaskPage"))
    def get(self, args):
        """The caller's tasks (an RM's own; the team every one), newest first."""
        return queries.list_tasks(db(), current_actor(), **args)


@blp.route("/tasks/<int:task_id>")
class TaskDetail(MethodView):
    @blp.response(200, MarketingTaskDetailOut)
    def get(self, task_id):
        """One task with the client's summary (tier, AUM, holdings, consent, do-not-disturb
        hours) and the campaign's script. Another RM's task is 404."""
        return queries.task_detail(db(), current_actor(), task_id)


@blp.route("/tasks/<int:task_id>/outcome")
class TaskOutcome(MethodView):
    @blp.arguments(MarketingOutcomeIn)
    @blp.response(200, MarketingTaskOut)
    def post(self, body, task_id):
        """Record the task's outcome (reached, not_reached, interested, declined, converted),
        the opportunity flag and a note. The same outcome again is a no-op; another one on a
        done task is 409 ``task_done``; audited."""
        return service.record_outcome(
            db(), current_actor(), task_id, body["outcome"], body["opportunity"], body["note"]
        )
