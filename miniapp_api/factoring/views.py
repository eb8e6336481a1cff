"""Factoring routes: agreements and suppliers (bank staff), payables (register, confirm,
transfer a part, finance, pay), applications, deposits and recourse."""

from __future__ import annotations

from flask.views import MethodView

from backend.factoring import queries, service
from miniapp_api.common import PageArgs, current_actor, db, page_schema
from miniapp_api.factoring.blueprint import blp
from miniapp_api.factoring.schemas import (
    FctAgreementIn,
    FctAgreementOut,
    FctAgreementStatusIn,
    FctApplicationArgs,
    FctApplicationOut,
    FctBalanceOut,
    FctCollectIn,
    FctDepositIn,
    FctDepositOut,
    FctPayableArgs,
    FctPayableDetailOut,
    FctPayableIn,
    FctPayableOut,
    FctRecourseArgs,
    FctRecourseOut,
    FctSupplierIn,
    FctSupplierOut,
    FctTransferIn,
)


@blp.route("/agreements")
class Agreements(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(FctAgreementOut, "FactoringAgreementPage"))
    def get(self, args):
        """Agreements: bank staff all, a core enterprise its own, a supplier those it is in."""
        return queries.list_agreements(db(), current_actor(), **args)

    @blp.arguments(FctAgreementIn)
    @blp.response(201, FctAgreementOut)
    def post(self, body):
        """Bank staff (rm, approver, admin): a core enterprise's factoring agreement."""
        return service.create_agreement(
            db(),
            current_actor(),
            core_org_id=body["core_id"],
            limit=body["limit"],
            advance_rate=body["advance_rate"],
            interest_rate=body["interest_rate"],
            fee_rate=body["fee_rate"],
            with_recourse=body["with_recourse"],
            valid_from=body["valid_from"],
            valid_to=body["valid_to"],
        )


@blp.route("/agreements/<int:agreement_id>")
class AgreementDetail(MethodView):
    @blp.response(200, FctAgreementOut)
    def get(self, agreement_id):
        """One agreement; one the caller is not part of is 404."""
        return queries.get_agreement(db(), current_actor(), agreement_id)


@blp.route("/agreements/<int:agreement_id>/status")
class AgreementStatus(MethodView):
    @blp.arguments(FctAgreementStatusIn)
    @blp.response(200, FctAgreementOut)
    def post(self, body, agreement_id):
        """Bank staff: suspend, reactivate or close an agreement."""
        return service.set_agreement_status(db(), current_actor(), agreement_id, body["status"])


@blp.route("/agreements/<int:agreement_id>/suppliers")
class Suppliers(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(FctSupplierOut, "FactoringSupplierPage"))
    def get(self, args, agreement_id):
        """The chain: the core enterprise and bank staff all, a supplier its own row."""
        return queries.list_suppliers(db(), current_actor(), agreement_id, **args)

    @blp.arguments(FctSupplierIn)
    @blp.response(201, FctSupplierOut)
    def post(self, body, agreement_id):
        """Bank staff: admit a supplier (or set its counterparty limit)."""
        return service.admit_supplier(
            db(),
            current_actor(),
            agreement_id,
            org_id=body["org_id"],
            counterparty_limit=body["counterparty_limit"],
        )


@blp.route("/payables")
class Payables(MethodView):
    @blp.arguments(FctPayableArgs, location="query")
    @blp.response(200, page_schema(FctPayableOut, "FactoringPayablePage"))
    def get(self, args):
        """Payable parts the caller may see (role=held: it holds; role=owed: it owes)."""
        return queries.list_payables(db(), current_actor(), **args)

    @blp.arguments(FctPayableIn)
    @blp.response(201, FctPayableOut)
    def post(self, body):
        """A core enterprise registers what it owes a supplier (CONFIRMED); a supplier what its
        core enterprise owes it (REGISTERED, to be confirmed)."""
        return service.register_payable(
            db(),
            current_actor(),
            invoice_no=body["invoice_no"],
            amount=body["amount"],
            issue_date=body["issue_date"],
            maturity_date=body["maturity_date"],
            creditor_org_id=body["creditor_id"],
            debtor_org_id=body["debtor_id"],
        )


@blp.route("/payables/<int:payable_id>")
class PayableDetail(MethodView):
    @blp.response(200, FctPayableDetailOut)
    def get(self, payable_id):
        """One part and the parts of its invoice the caller may see."""
        session, actor = db(), current_actor()
        payable = queries.get_payable(session, actor, payable_id)
        payable.parts = queries.parts_of(session, actor, payable)
        return payable


@blp.route("/payables/<int:payable_id>/confirm")
class ConfirmPayable(MethodView):
    @blp.response(200, FctPayableOut)
    def post(self, payable_id):
        """The core enterprise confirms a payable its supplier registered."""
        return service.confirm_payable(db(), current_actor(), payable_id)


@blp.route("/payables/<int:payable_id>/transfer")
class TransferPayable(MethodView):
    @blp.arguments(FctTransferIn)
    @blp.response(201, FctPayableOut)
    def post(self, body, payable_id):
        """The holder transfers a part (all of it, or a split-off part) to its own supplier;
        returns the part the receiver holds."""
        return service.transfer_part(
            db(), current_actor(), payable_id, to_org_id=body["to_org_id"], amount=body["amount"]
        )


@blp.route("/payables/<int:payable_id>/finance")
class FinancePayable(MethodView):
    @blp.response(201, FctApplicationOut)
    def post(self, payable_id):
        """The holder applies for financing; decided at once by the rules. The application is
        kept either way: status approved (the advance is paid, the part FINANCED) or refused
        with its reasons (invoice_already_financed, risk_blocked, agreement_limit_exceeded,
        counterparty_limit_exceeded, payable_matured, agreement_expired, ...)."""
        return service.apply_for_financing(db(), current_actor(), payable_id)


@blp.route("/payables/<int:payable_id>/pay")
class PayPayable(MethodView):
    @blp.response(200, FctPayableOut)
    def post(self, payable_id):
        """The core enterprise pays a part from its deposit account; it is settled at once."""
        return service.pay_payable(db(), current_actor(), payable_id)


@blp.route("/payables/<int:payable_id>/recourse")
class RecoursePayable(MethodView):
    @blp.response(201, FctRecourseOut)
    def post(self, payable_id):
        """Bank staff, with recourse: book the bank's claim on the supplier for an overdue
        financed part."""
        return service.book_recourse(db(), current_actor(), payable_id)


@blp.route("/recourse-claims")
class RecourseClaims(MethodView):
    @blp.arguments(FctRecourseArgs, location="query")
    @blp.response(200, page_schema(FctRecourseOut, "FactoringRecourseClaimPage"))
    def get(self, args):
        """Recourse claims: bank staff all, a supplier the claims on itself; newest first."""
        return queries.list_recourse_claims(db(), current_actor(), **args)


@blp.route("/recourse-claims/<int:claim_id>")
class RecourseClaimDetail(MethodView):
    @blp.response(200, FctRecourseOut)
    def get(self, claim_id):
        """One recourse claim (bank staff, or the supplier it is on; others 404)."""
        return queries.get_recourse_claim(db(), current_actor(), claim_id)


@blp.route("/recourse-claims/<int:claim_id>/collect")
class CollectRecourse(MethodView):
    @blp.arguments(FctCollectIn)
    @blp.response(200, FctRecourseOut)
    def post(self, body, claim_id):
        """Bank staff: collect the claim from the supplier's deposit: ``amount``, or without it
        as much of what is outstanding as the deposit holds; closes the claim when all is paid
        (422 insufficient_deposit, exceeds_outstanding; 409 recourse_closed)."""
        return service.collect_recourse(db(), current_actor(), claim_id, amount=body["amount"])


@blp.route("/applications")
class Applications(MethodView):
    @blp.arguments(FctApplicationArgs, location="query")
    @blp.response(200, page_schema(FctApplicationOut, "FactoringApplicationPage"))
    def get(self, args):
        """Financing applications with their decisions and reasons."""
        return queries.list_applications(db(), current_actor(), **args)


@blp.route("/applications/<int:application_id>")
class ApplicationDetail(MethodView):
    @blp.response(200, FctApplicationOut)
    def get(self, application_id):
        """One application."""
        return queries.get_application(db(), current_actor(), application_id)


@blp.route("/deposits")
class Deposits(MethodView):
    @blp.arguments(FctDepositIn)
    @blp.response(201, FctDepositOut)
    def post(self, body):
        """Teller: money paid in for an enterprise onto its factoring deposit account."""
        return service.deposit(
            db(), current_actor(), body["org_id"], body["amount"], reference=body["reference"]
        )


@blp.route("/orgs/<int:org_id>/balance")
class DepositBalance(MethodView):
    @blp.response(200, FctBalanceOut)
    def get(self, org_id):
        """An enterprise's factoring deposit balance (its own users, bank staff)."""
        balance = queries.deposit_balance(db(), current_actor(), org_id)
        return {
            "org_id": org_id,
            "posted": balance.posted if balance else None,
            "available": balance.available if balance else None,
        }
