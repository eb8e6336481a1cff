"""Dealers and their credit: the dealer summary, cash paid in and margin moved; OEM programmes,
yards, credit lines and their maker-checker requests."""

from __future__ import annotations

from flask.views import MethodView

from backend.floorplan import queries, service
from miniapp_api.common import PageArgs, current_actor, db, page_schema
from miniapp_api.floorplan.blueprint import ACT_TEXTS, blp
from miniapp_api.floorplan.schemas import (
    ActOnBehalfOut,
    CreditLineOut,
    CreditLineRequestIn,
    CreditLineRequestOut,
    DealerOverviewOut,
    DealerSummaryOut,
    FloorplanAmountIn,
    FloorplanDecisionIn,
    FloorplanStatusArgs,
    FloorplanTransferOut,
    MarginMoveIn,
    ProgrammeIn,
    ProgrammeOut,
    WarehouseIn,
    WarehouseOut,
)
from miniapp_api.responses import errors

# --------------------------------------------------------------------------- dealers


@blp.route("/dealers")
class Dealers(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(DealerOverviewOut, "DealerOverviewPage"))
    @errors(blp, 400, 401, 403)
    def get(self, args):
        """The dealer overview: each dealer's summary (line limit, used, available and its
        utilisation, margin, cars by status: out_of_trust, released_unpaid ...; open alerts by
        severity) and its aged stock (cars in stock past each aging threshold). Bank staff see
        every dealer, an OEM its own dealers; a dealer or a supervisor is refused (403)."""
        return queries.list_dealer_overview(db(), current_actor(), **args)


@blp.route("/dealers/<int:dealer_id>/summary")
class DealerSummary(MethodView):
    @blp.response(200, DealerSummaryOut)
    def get(self, dealer_id):
        """Credit line, used, margin, frozen, cars by status (dealer, its OEM, bank staff)."""
        return queries.dealer_summary(db(), current_actor(), dealer_id)


@blp.route("/dealers/<int:dealer_id>/deposits")
class Deposits(MethodView):
    @blp.arguments(FloorplanAmountIn)
    @blp.response(201, FloorplanTransferOut)
    def post(self, body, dealer_id):
        """Teller: cash paid into the dealer's deposit account."""
        return service.deposit_cash(
            db(), current_actor(), dealer_id, body["amount"], reference=body["reference"]
        )


@blp.route("/dealers/<int:dealer_id>/margin/top-up")
class MarginTopUp(MethodView):
    @blp.arguments(MarginMoveIn)
    @blp.response(201, FloorplanTransferOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT_TEXTS)
    def post(self, body, dealer_id):
        """Dealer (its own users; a teller only with on_behalf, the dealer's instruction):
        move deposit into margin."""
        return service.top_up_margin(
            db(), current_actor(), dealer_id, body["amount"], on_behalf=body["on_behalf"]
        )


@blp.route("/dealers/<int:dealer_id>/margin/withdraw")
class MarginWithdraw(MethodView):
    @blp.arguments(MarginMoveIn)
    @blp.response(201, FloorplanTransferOut)
    @errors(blp, 400, 401, 403, 404, 409, 422, texts=ACT_TEXTS)
    def post(self, body, dealer_id):
        """Dealer (its own users; a teller only with on_behalf, the dealer's instruction):
        move free margin (above what the cars require) back to the deposit. rm, approver and
        admin may not (403 forbidden)."""
        return service.withdraw_margin(
            db(), current_actor(), dealer_id, body["amount"], on_behalf=body["on_behalf"]
        )


@blp.route("/dealers/<int:dealer_id>/acts-on-behalf")
class ActsOnBehalf(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ActOnBehalfOut, "ActOnBehalfPage"))
    @errors(blp, 400, 401, 404)
    def get(self, args, dealer_id):
        """What the bank did in the dealer's name (tellers with on_behalf), newest first: the
        act, its objects and ledger transfers, the reason, the instruction's reference and the
        teller. The dealer, its OEM and bank staff read it."""
        return queries.list_acts_on_behalf(db(), current_actor(), dealer_id, **args)


# --------------------------------------------------------------------------- set-up, credit


@blp.route("/programmes")
class Programmes(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ProgrammeOut, "ProgrammePage"))
    def get(self, args):
        """OEM programmes (bank staff all; OEMs and their dealers their own)."""
        return queries.list_programmes(db(), current_actor(), **args)

    @blp.arguments(ProgrammeIn)
    @blp.response(201, ProgrammeOut)
    def post(self, body):
        """Admin: a programme for an OEM."""
        body["oem_org_id"] = body.pop("oem_id")
        return service.create_programme(db(), current_actor(), **body)


@blp.route("/warehouses")
class Warehouses(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(WarehouseOut, "WarehousePage"))
    def get(self, args):
        """Yards the caller may see: a dealer its own, its OEM its dealers', a supervisor
        those it watches, bank staff all."""
        return queries.list_warehouses(db(), current_actor(), **args)

    @blp.arguments(WarehouseIn)
    @blp.response(201, WarehouseOut)
    def post(self, body):
        """Bank staff: a dealer's yard watched by a supervisor company."""
        return service.create_warehouse(
            db(),
            current_actor(),
            code=body["code"],
            name=body["name"],
            dealer_org_id=body["dealer_id"],
            supervisor_org_id=body["supervisor_id"],
            address=body["address"],
        )


@blp.route("/credit-lines")
class CreditLines(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(CreditLineOut, "CreditLinePage"))
    def get(self, args):
        """Lines: bank staff all, a dealer its own, an OEM its dealers'."""
        return queries.list_lines(db(), current_actor(), **args)


@blp.route("/credit-lines/<int:line_id>")
class CreditLineDetail(MethodView):
    @blp.response(200, CreditLineOut)
    def get(self, line_id):
        """One credit line: limit, used, available, margin ratio; another dealer's is 404."""
        return queries.get_line(db(), current_actor(), line_id)


@blp.route("/credit-lines/<int:line_id>/<any(suspend, reactivate):action>")
class CreditLineStatus(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, CreditLineOut)
    def post(self, body, line_id, action):
        """Approver: suspend a line (no new bills or releases on trust) or reactivate it."""
        status = "suspended" if action == "suspend" else "active"
        return service.set_line_status(db(), current_actor(), line_id, status, note=body["note"])


@blp.route("/credit-line-requests")
class CreditLineRequests(MethodView):
    @blp.arguments(FloorplanStatusArgs, location="query")
    @blp.response(200, page_schema(CreditLineRequestOut, "CreditLineRequestPage"))
    def get(self, args):
        """Bank staff: proposals waiting for (or past) approval."""
        return queries.list_requests(db(), current_actor(), **args)

    @blp.arguments(CreditLineRequestIn)
    @blp.response(201, CreditLineRequestOut)
    def post(self, body):
        """RM (maker): propose a line or new terms for a dealer."""
        body["dealer_org_id"] = body.pop("dealer_id")
        return service.propose_credit_line(db(), current_actor(), **body)


@blp.route("/credit-line-requests/<int:request_id>/approve")
class ApproveCreditLine(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, CreditLineOut)
    def post(self, body, request_id):
        """Approver (checker, not the maker): apply the proposed terms."""
        return service.approve_credit_line(db(), current_actor(), request_id, note=body["note"])


@blp.route("/credit-line-requests/<int:request_id>/reject")
class RejectCreditLine(MethodView):
    @blp.arguments(FloorplanDecisionIn)
    @blp.response(200, CreditLineRequestOut)
    def post(self, body, request_id):
        """Approver: reject the proposal."""
        return service.reject_credit_line(db(), current_actor(), request_id, note=body["note"])
