"""The collateral registry (``/api/v1/collateral``): properties, the credit they secure,
mortgage registrations (maker-checker) and documents by reference.

A relationship manager sees and changes only their own clients' properties, approvers and
admins all, a borrower's own users their org's, read only (``backend.collateral.access``):
another's property is 404, a change by a read-only user 403. Views call
``backend.collateral.service`` and ``backend.collateral.queries``.
"""

from __future__ import annotations

from flask.views import MethodView

from backend.collateral import access, queries, service
from backend.collateral.service.registry import FIELDS
from miniapp_api.collateral.registry_schemas import (
    ColCreditLinkIn,
    ColCreditLinkOut,
    ColDocumentIn,
    ColDocumentOut,
    ColPropertyArgs,
    ColPropertyDetailOut,
    ColPropertyIn,
    ColPropertyOut,
    ColPropertyPatchIn,
    ColRegistrationArgs,
    ColRegistrationIn,
    ColRegistrationOut,
    ColRejectIn,
)
from miniapp_api.common import current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "collateral_registry",
    __name__,
    url_prefix="/api/v1/collateral",
    description="Collateral registry: residential properties, the credit they secure, mortgage "
    "registrations (maker-checker) and documents by reference",
)


@blp.route("/properties")
class Properties(MethodView):
    @blp.arguments(ColPropertyArgs, location="query")
    @blp.response(200, page_schema(ColPropertyOut, "CollateralPropertyPage"))
    def get(self, args):
        """Properties the caller may see, newest first (filters: city, community, RM, owner,
        status)."""
        return queries.list_properties(db(), current_actor(), **args)

    @blp.arguments(ColPropertyIn)
    @blp.response(201, ColPropertyOut)
    def post(self, body):
        """Bank staff: register a property as collateral. An RM registers for themselves;
        approvers and admins may name the RM (``rm_user_id``). The facts are checked as the
        valuer checks them (400 with details per field)."""
        return service.register_property(
            db(),
            current_actor(),
            facts={k: body[k] for k in FIELDS if k in body},
            address=body["address"],
            owner_org_id=body["owner_org_id"],
            owner_name=body.get("owner_name"),
            rm_user_id=body.get("rm_user_id"),
            code=body.get("code"),
        )


@blp.route("/properties/<int:property_id>")
class PropertyDetail(MethodView):
    @blp.response(200, ColPropertyDetailOut)
    def get(self, property_id):
        """One property with its credits (and their LTV), registrations, documents, latest
        valuation and valuation history."""
        return queries.get_property(db(), current_actor(), property_id)

    @blp.arguments(ColPropertyPatchIn)
    @blp.response(200, ColPropertyOut)
    def patch(self, body, property_id):
        """Correct facts, the address, the owner's name, or (approvers, admins) the RM;
        audited with before and after."""
        return service.update_property(db(), current_actor(), property_id, body)


@blp.route("/properties/<int:property_id>/release")
class ReleaseProperty(MethodView):
    @blp.response(200, ColPropertyOut)
    def post(self, property_id):
        """Take the property off the register (422 property_has_active_credit,
        registration_pending, mortgage_registered; 409 property_released)."""
        return service.release_property(db(), current_actor(), property_id)


@blp.route("/properties/<int:property_id>/credits")
class PropertyCredits(MethodView):
    @blp.arguments(ColCreditLinkIn)
    @blp.response(201, ColCreditLinkOut)
    def post(self, body, property_id):
        """The property secures a credit: a floor-plan line (its id), a factoring agreement
        (its code), or a core-banking loan (number, outstanding, borrower). 404
        credit_not_found, 422 credit_inactive, 409 credit_already_linked."""
        session, actor = db(), current_actor()
        link = service.link_credit(session, actor, property_id, **body)
        owner = access.get_property(session, actor, property_id).owner_org_id
        link.third_party = link.borrower_org_id != owner
        return link


@blp.route("/credits/<int:link_id>/release")
class ReleaseCredit(MethodView):
    @blp.response(200, ColCreditLinkOut)
    def post(self, link_id):
        """The credit no longer relies on the property: the link is released (422
        registration_pending; 409 credit_link_released)."""
        return service.release_credit(db(), current_actor(), link_id)


@blp.route("/properties/<int:property_id>/registrations")
class PropertyRegistrations(MethodView):
    @blp.arguments(ColRegistrationIn)
    @blp.response(201, ColRegistrationOut)
    def post(self, body, property_id):
        """The maker (RM, approver) records a mortgage registration: pending until a checker
        who is not the maker decides (409 registration_pending)."""
        return service.record_registration(db(), current_actor(), property_id, **body)


@blp.route("/registrations")
class Registrations(MethodView):
    @blp.arguments(ColRegistrationArgs, location="query")
    @blp.response(200, page_schema(ColRegistrationOut, "CollateralRegistrationPage"))
    def get(self, args):
        """Registrations of the properties the caller may see, newest first (a checker's
        queue: ``status=pending``)."""
        return queries.list_registrations(db(), current_actor(), **args)


@blp.route("/registrations/<int:registration_id>/approve")
class ApproveRegistration(MethodView):
    @blp.response(200, ColRegistrationOut)
    def post(self, registration_id):
        """A checker (approver, admin) who is not the maker approves: registered (403
        maker_checker_violation; 409 registration_not_pending)."""
        return service.approve_registration(db(), current_actor(), registration_id)


@blp.route("/registrations/<int:registration_id>/reject")
class RejectRegistration(MethodView):
    @blp.arguments(ColRejectIn)
    @blp.response(200, ColRegistrationOut)
    def post(self, body, registration_id):
        """A checker who is not the maker rejects, with the reason."""
        return service.reject_registration(
            db(), current_actor(), registration_id, reason=body["reason"]
        )


@blp.route("/registrations/<int:registration_id>/release")
class ReleaseRegistration(MethodView):
    @blp.response(200, ColRegistrationOut)
    def post(self, registration_id):
        """Release a registered mortgage once the credit it secured is released (422
        credit_link_active; 409 registration_not_registered)."""
        return service.release_registration(db(), current_actor(), registration_id)


@blp.route("/properties/<int:property_id>/documents")
class PropertyDocuments(MethodView):
    @blp.arguments(ColDocumentIn)
    @blp.response(201, ColDocumentOut)
    def post(self, body, property_id):
        """A document by reference: kind, uri (https://, s3:// or docstore:<id>) and the
        content's SHA-256."""
        return service.add_document(db(), current_actor(), property_id, **body)
