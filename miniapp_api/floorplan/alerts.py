"""Vehicle alerts: listed, read, acknowledged and resolved (also pushed live as
``vehicle.alert``)."""

from __future__ import annotations

from flask.views import MethodView

from backend.floorplan import queries, service
from miniapp_api.common import current_actor, db, page_schema
from miniapp_api.floorplan.blueprint import blp
from miniapp_api.floorplan.schemas import (
    FloorplanDecisionIn,
    VehicleAlertArgs,
    VehicleAlertOut,
)


@blp.route("/alerts")
class Alerts(MethodView):
    @blp.arguments(VehicleAlertArgs, location="query")
    @blp.response(200, page_schema(VehicleAlertOut, "VehicleAlertPage"))
    def get(self, args):
        """Vehicle alerts, newest first (also pushed on Socket.IO as vehicle.alert)."""
        return queries.list_alerts(db(), current_actor(), **args)


@blp.route("/alerts/<int:alert_id>")
class AlertDetail(MethodView):
    @blp.response(200, VehicleAlertOut)
    def get(self, alert_id):
        """One vehicle alert with its data; an alert the caller may not see is 404."""
        return queries.get_alert(db(), current_actor(), alert_id)


@blp.route("/alerts/<int:alert_id>/acknowledge")
class AcknowledgeAlert(MethodView):
    @blp.response(200, VehicleAlertOut)
    def post(self, alert_id):
        """Whoever sees the alert: seen, being handled."""
        return service.acknowledge_alert(db(), current_actor(), alert_id)


@blp.route("/alerts/<int:alert_id>/resolve")
class ResolveAlert(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, VehicleAlertOut)
    def post(self, body, alert_id):
        """Bank staff: handled and closed."""
        return service.resolve_alert(db(), current_actor(), alert_id, note=body["note"])
