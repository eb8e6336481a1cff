"""Acceptance bills (requested, issued, rejected, settled, advance repaid) and the OEM shipments
that deliver the cars a bill pays for."""

from __future__ import annotations

from flask.views import MethodView

from backend.floorplan import queries, service
from miniapp_api.common import current_actor, db, page_schema
from miniapp_api.floorplan.blueprint import blp, live
from miniapp_api.floorplan.schemas import (
    AcceptanceBillArgs,
    AcceptanceBillIn,
    AcceptanceBillOut,
    FloorplanDecisionIn,
    FloorplanStatusArgs,
    OptionalAmountIn,
    ShipmentDetailOut,
    ShipmentIn,
    ShipmentOut,
)

# --------------------------------------------------------------------------- bills


@blp.route("/bills")
class Bills(MethodView):
    @blp.arguments(AcceptanceBillArgs, location="query")
    @blp.response(200, page_schema(AcceptanceBillOut, "AcceptanceBillPage"))
    def get(self, args):
        """Bills: a dealer its own, an OEM those payable to it, bank staff all."""
        return queries.list_bills(db(), current_actor(), **args)

    @blp.arguments(AcceptanceBillIn)
    @blp.response(201, AcceptanceBillOut)
    def post(self, body):
        """Dealer: ask for an acceptance bill to pay the OEM (3 or 6 months)."""
        return service.request_bill(
            db(),
            current_actor(),
            amount=body["amount"],
            term_months=body["term_months"],
            dealer_org_id=body["dealer_id"],
            note=body["note"],
        )


@blp.route("/bills/<int:bill_id>")
class BillDetail(MethodView):
    @blp.response(200, AcceptanceBillOut)
    def get(self, bill_id):
        """One acceptance bill and its amounts; a bill the caller may not see is 404."""
        return queries.get_bill(db(), current_actor(), bill_id)


@blp.route("/bills/<int:bill_id>/issue")
class IssueBill(MethodView):
    @blp.response(200, AcceptanceBillOut)
    def post(self, bill_id):
        """Bank staff: risk check, line check, margin frozen, bill issued."""
        return service.issue_bill(db(), current_actor(), bill_id)


@blp.route("/bills/<int:bill_id>/reject")
class RejectBill(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, AcceptanceBillOut)
    def post(self, body, bill_id):
        """Bank staff: refuse a requested bill."""
        return service.reject_bill(db(), current_actor(), bill_id, note=body["note"])


@blp.route("/bills/<int:bill_id>/settle")
class SettleBill(MethodView):
    @blp.response(200, AcceptanceBillOut)
    def post(self, bill_id):
        """Bank staff: run the maturity sweep of a bill now (the job does it hourly)."""
        return service.settle_bill(db(), current_actor(), live(), bill_id)


@blp.route("/bills/<int:bill_id>/repay")
class RepayBillAdvance(MethodView):
    @blp.arguments(OptionalAmountIn)
    @blp.response(200, AcceptanceBillOut)
    def post(self, body, bill_id):
        """Dealer (a teller only with on_behalf): repay the advance of a bill that matured
        before its cars were shipped."""
        return service.repay_bill_advance(
            db(), current_actor(), bill_id, body["amount"], on_behalf=body["on_behalf"]
        )


# --------------------------------------------------------------------------- shipments


@blp.route("/shipments")
class Shipments(MethodView):
    @blp.arguments(FloorplanStatusArgs, location="query")
    @blp.response(200, page_schema(ShipmentOut, "ShipmentPage"))
    def get(self, args):
        """Shipments the caller ships, receives or supervises."""
        return queries.list_shipments(db(), current_actor(), **args)

    @blp.arguments(ShipmentIn)
    @blp.response(201, ShipmentDetailOut)
    def post(self, body):
        """OEM: the shipping list of an issued bill (prices add up to the bill)."""
        session = db()
        shipment = service.create_shipment(session, current_actor(), **body)
        shipment.vehicles = queries.shipment_vehicles(session, shipment)
        return shipment


@blp.route("/shipments/<int:shipment_id>")
class ShipmentDetail(MethodView):
    @blp.response(200, ShipmentDetailOut)
    def get(self, shipment_id):
        """One shipment with its cars."""
        session = db()
        shipment = queries.get_shipment(session, current_actor(), shipment_id)
        shipment.vehicles = queries.shipment_vehicles(session, shipment)
        return shipment


@blp.route("/shipments/<int:shipment_id>/arrive")
class ArriveShipment(MethodView):
    @blp.response(200, ShipmentOut)
    def post(self, shipment_id):
        """OEM or supervisor: the cars reached the yard."""
        return service.mark_arrived(db(), current_actor(), shipment_id)
