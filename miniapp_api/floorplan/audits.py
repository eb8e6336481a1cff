"""Inventory audits: opened on a yard, checked car by car by the supervisor, closed."""

from __future__ import annotations

from flask.views import MethodView

from backend.floorplan import queries, service
from miniapp_api.common import current_actor, db, page_schema
from miniapp_api.floorplan.blueprint import blp, live
from miniapp_api.floorplan.schemas import (
    InventoryAuditArgs,
    InventoryAuditDetailOut,
    InventoryAuditIn,
    InventoryAuditOut,
    InventoryCheckIn,
    InventoryCheckOut,
)


@blp.route("/audits")
class Audits(MethodView):
    @blp.arguments(InventoryAuditArgs, location="query")
    @blp.response(200, page_schema(InventoryAuditOut, "InventoryAuditPage"))
    def get(self, args):
        """Inventory audits, newest first."""
        return queries.list_audits(db(), current_actor(), **args)

    @blp.arguments(InventoryAuditIn)
    @blp.response(201, InventoryAuditDetailOut)
    def post(self, body):
        """Supervisor or bank staff: open an audit of a yard (a risk-based sample)."""
        session = db()
        record = service.open_audit(
            session, current_actor(), body["warehouse_id"], sample_ratio=body["sample_ratio"]
        )
        record.checks = queries.audit_checks(session, record)
        return record


@blp.route("/audits/<int:audit_id>")
class AuditDetail(MethodView):
    @blp.response(200, InventoryAuditDetailOut)
    def get(self, audit_id):
        """One audit with its checks."""
        session = db()
        record = queries.get_audit(session, current_actor(), audit_id)
        record.checks = queries.audit_checks(session, record)
        return record


@blp.route("/audits/<int:audit_id>/checks")
class AuditChecks(MethodView):
    @blp.arguments(InventoryCheckIn)
    @blp.response(201, InventoryCheckOut)
    def post(self, body, audit_id):
        """Supervisor: one car checked (time, photo reference, location, certificate)."""
        return service.record_check(db(), current_actor(), live(), audit_id, **body)


@blp.route("/audits/<int:audit_id>/close")
class CloseAudit(MethodView):
    @blp.response(200, InventoryAuditDetailOut)
    def post(self, audit_id):
        """Supervisor: close; sampled cars not checked are missing (out of trust)."""
        session = db()
        record = service.close_audit(session, current_actor(), live(), audit_id)
        record.checks = queries.audit_checks(session, record)
        return record
