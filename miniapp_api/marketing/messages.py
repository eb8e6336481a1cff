"""A client's mini-program messages from campaigns (``/api/v1/marketing/messages``): the
client's own login only (role client); what the notifier's inbox adapter delivered."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.marketing.campaigns import queries
from miniapp_api.common import PageArgs, Timestamp, current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "marketing_messages",
    __name__,
    url_prefix="/api/v1/marketing",
    description="Marketing: a client's mini-program messages",
)


class MarketingMessageOut(ma.Schema):
    id = ma.fields.Integer()
    campaign_id = ma.fields.Integer(allow_none=True)
    body = ma.fields.String()
    at = Timestamp()


@blp.route("/messages")
class Messages(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(MarketingMessageOut, "MarketingMessagePage"))
    def get(self, args):
        """The caller's (a client's) mini-program messages from campaigns, newest first."""
        return queries.my_messages(db(), current_actor(), **args)
