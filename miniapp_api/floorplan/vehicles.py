"""Cars: lists and details, redemption (one car or a batch), supervisor intake and release,
release before repayment, a missing car reported, curtailment paid."""

from __future__ import annotations

from flask.views import MethodView

from backend.floorplan import queries, service
from miniapp_api.common import current_actor, db, key_in_request_transaction, page_schema
from miniapp_api.floorplan.blueprint import ACT_TEXTS, blp, live
from miniapp_api.floorplan.schemas import (
    BatchRedeemIn,
    CurtailmentOut,
    DealerActIn,
    FloorplanDecisionIn,
    IntakeIn,
    RedeemIn,
    RedemptionOut,
    VehicleArgs,
    VehicleDetailOut,
    VehicleOut,
)
from miniapp_api.responses import errors


@blp.route("/vehicles")
class Vehicles(MethodView):
    @blp.arguments(VehicleArgs, location="query")
    @blp.response(200, page_schema(VehicleOut, "VehiclePage"))
    def get(self, args):
        """Cars: dealers see their own, OEMs those they shipped, supervisors those in their
        yards, bank staff all. Filters: status, dealer, bill, yard, ``vin`` (VINs containing
        it, any case) and ``min_days`` (aging: pledged at least that many days ago)."""
        return queries.list_vehicles(db(), current_actor(), **args)


@blp.route("/vehicles/<string:vin>")
class VehicleDetail(MethodView):
    @blp.response(200, VehicleDetailOut)
    def get(self, vin):
        """One car, with its days in stock and curtailment."""
        session = db()
        vehicle = queries.vehicle_detail(session, current_actor(), vin)
        vehicle.curtailment = queries.curtailment_of(session, vehicle)
        return vehicle


@blp.route("/vehicles/<string:vin>/redeem")
class Redeem(MethodView):
    @blp.arguments(RedeemIn)
    @blp.response(200, VehicleOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT_TEXTS)
    @key_in_request_transaction
    def post(self, body, vin):
        """Dealer (its own users; a teller only with on_behalf, the dealer's instruction):
        repay the car. The body is required: mode full pays from the deposit, margin from
        margin above the required ratio (no body: 400, nothing repaid). Status becomes
        "redeemed" (or "released" for a car already out)."""
        result = service.redeem_vehicles(
            db(), current_actor(), [vin], mode=body["mode"], on_behalf=body["on_behalf"]
        )
        return result.vehicles[0]


@blp.route("/redemptions")
class Redemptions(MethodView):
    @blp.arguments(BatchRedeemIn)
    @blp.response(200, RedemptionOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT_TEXTS)
    @key_in_request_transaction
    def post(self, body):
        """Dealer (a teller only with on_behalf): redeem several cars of one dealer at once,
        all or nothing (one ledger batch); mode is required."""
        return service.redeem_vehicles(
            db(), current_actor(), body["vins"], mode=body["mode"], on_behalf=body["on_behalf"]
        )


@blp.route("/vehicles/<string:vin>/release")
class Release(MethodView):
    @blp.response(200, VehicleOut)
    def post(self, vin):
        """Supervisor: release a redeemed car (422 unless redeemed or granted
        release-before-repay); the certificate leaves custody."""
        return service.release_vehicle(db(), current_actor(), vin)


@blp.route("/vehicles/<string:vin>/report-missing")
class ReportMissing(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, VehicleOut)
    def post(self, body, vin):
        """Supervisor: a pledged car is gone from the yard: out of trust (hard alert, risk
        event) at once."""
        return service.report_missing(db(), current_actor(), live(), vin, note=body["note"])


@blp.route("/vehicles/<string:vin>/intake")
class Intake(MethodView):
    @blp.arguments(IntakeIn)
    @blp.response(200, VehicleOut)
    def post(self, body, vin):
        """Supervisor: scan VIN and certificate at the yard: the car is pledged (in_stock)."""
        return service.intake_vehicle(db(), current_actor(), vin, **body)


@blp.route("/vehicles/<string:vin>/release-before-repay")
class ReleaseBeforeRepay(MethodView):
    @blp.arguments(DealerActIn)
    @blp.response(200, VehicleOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT_TEXTS)
    def post(self, body, vin):
        """Trusted dealer (a teller only with on_behalf): take the car out first, repay by the
        line's deadline. Refused while risk blocks the dealer: bank staff see 422
        disbursement_blocked_by_risk with the signals, the dealer a plain 422
        disbursement_refused."""
        return service.grant_release_before_repay(
            db(), current_actor(), vin, on_behalf=body["on_behalf"]
        )


@blp.route("/vehicles/<string:vin>/curtailment/pay")
class PayCurtailment(MethodView):
    @blp.arguments(DealerActIn)
    @blp.response(200, CurtailmentOut)
    @errors(blp, 400, 401, 403, 404, 422, texts=ACT_TEXTS)
    def post(self, body, vin):
        """Dealer (a teller only with on_behalf): pay the car's curtailment from the
        deposit."""
        return service.pay_curtailment(db(), current_actor(), vin, on_behalf=body["on_behalf"])
