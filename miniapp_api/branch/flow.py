"""Customer flow statistics over HTTP: a day's figures (JSON), drawn as a PNG, and an HTML page
with the figures and the chart."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from backend.branch.stats import queries as stats
from miniapp_api.branch.blueprint import blp, now
from miniapp_api.branch.schemas import DayArgs, FlowOut
from miniapp_api.common import current_actor, db


def _flow(branch_id: str, day: str | None) -> dict:
    return stats.flow_stats(db(), current_actor(), branch_id, day, now())


@blp.route("/branches/<string:branch_id>/flow")
class Flow(MethodView):
    @blp.arguments(DayArgs, location="query")
    @blp.response(200, FlowOut)
    def get(self, args, branch_id):
        """Customer flow of a day: arrivals per hour, waits, service times, abandonment,
        counter utilisation, off-counter rate"""
        return _flow(branch_id, args["day"])


@blp.route("/branches/<string:branch_id>/flow/chart.png")
class FlowChart(MethodView):
    @blp.arguments(DayArgs, location="query")
    @blp.doc(responses={"200": {"description": "PNG", "content": {"image/png": {}}}})
    def get(self, args, branch_id):
        """The day's flow as a PNG chart"""
        return Response(stats.flow_chart_png(_flow(branch_id, args["day"])), mimetype="image/png")


@blp.route("/branches/<string:branch_id>/flow/page")
class FlowPage(MethodView):
    @blp.arguments(DayArgs, location="query")
    @blp.doc(responses={"200": {"description": "HTML", "content": {"text/html": {}}}})
    def get(self, args, branch_id):
        """The day's flow as an HTML page with the chart"""
        return Response(stats.flow_page_html(_flow(branch_id, args["day"])), mimetype="text/html")
