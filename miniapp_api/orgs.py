"""Organisations: who the caller's org is, and the orgs the caller may see."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from backend.identity.models import Org
from backend.platform.pagination import paginate
from backend.platform.permissions import ensure_visible
from miniapp_api.common import PageArgs, current_actor, db, page_schema

blp = Blueprint("orgs", __name__, url_prefix="/api/v1/orgs", description="Organisations")


class OrgOut(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    parent_id = ma.fields.Integer(allow_none=True)


@blp.route("")
class Orgs(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(OrgOut, "OrgPage"))
    def get(self, args):
        """Orgs the caller may see: bank staff see all, others their own."""
        actor = current_actor()
        stmt = select(Org)
        if not actor.is_bank_staff:
            stmt = stmt.where(Org.id == actor.org_id)
        return paginate(db(), stmt, Org.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/<int:org_id>")
class OrgDetail(MethodView):
    @blp.response(200, OrgOut)
    def get(self, org_id):
        """One org; another org's is 404 unless the caller is bank staff."""
        org = db().get(Org, org_id)
        ensure_visible(current_actor(), org, [org_id], "org")
        return org
