"""Organisations: the orgs the caller may see, and (admin) creating and editing them: the bank,
OEMs, dealers, supervisors, enterprises and branch orgs, each under an optional parent."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from backend.identity import service as identity
from backend.identity.models import ORG_KINDS, Org
from backend.platform.pagination import paginate
from backend.platform.permissions import ensure_visible
from miniapp_api.common import PageArgs, StrictSchema, current_actor, db, page_schema
from miniapp_api.responses import errors
from miniapp_api.strict_input import Blueprint

blp = Blueprint("orgs", __name__, url_prefix="/api/v1/orgs", description="Organisations")

TEXTS = {
    403: "The caller is not an admin",
    404: "No such org, or not visible to the caller (org_not_found)",
    409: "org_exists, or an Idempotency-Key reused with another body",
}


class OrgOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    parent_id = ma.fields.Integer(allow_none=True)


class NewOrg(StrictSchema):
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "Letters, digits, '_' or '-'; fixed once made"},
    )
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ORG_KINDS))
    parent_id = ma.fields.Integer(load_default=None, allow_none=True)


class OrgChange(StrictSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    parent_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: no parent"})


@blp.route("")
class Orgs(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(OrgOut, "OrgPage"))
    @errors(blp, 400, 401)
    def get(self, args):
        """Orgs the caller may see: bank staff see all, others their own."""
        actor = current_actor()
        stmt = select(Org)
        if not actor.is_bank_staff:
            stmt = stmt.where(Org.id == actor.org_id)
        return paginate(db(), stmt, Org.id, limit=args["limit"], cursor=args["cursor"])

    @blp.arguments(NewOrg)
    @blp.response(201, OrgOut)
    @errors(blp, 400, 401, 403, 409, texts=TEXTS)
    def post(self, body):
        """Create an org (admin): kind bank, oem, dealer, supervisor, enterprise or branch,
        under an optional parent (a dealer under its OEM, a branch org under the bank)."""
        return identity.create_org(db(), current_actor(), **body)


@blp.route("/<int:org_id>")
class OrgDetail(MethodView):
    @blp.response(200, OrgOut)
    @errors(blp, 401, 404, texts=TEXTS)
    def get(self, org_id):
        """One org; another org's is 404 unless the caller is bank staff."""
        org = db().get(Org, org_id)
        ensure_visible(current_actor(), org, [org_id], "org")
        return org

    @blp.arguments(OrgChange)
    @blp.response(200, OrgOut)
    @errors(blp, 400, 401, 403, 404, 409, texts=TEXTS)
    def patch(self, body, org_id):
        """Rename an org or move it under another parent (admin). Code and kind stay."""
        return identity.update_org(db(), current_actor(), org_id, **body)
