"""Client segments (``/api/v1/marketing/segments``): rule segments and model lists, their
size and overlap before use, freezing the list a campaign uses, and audited exports.

The marketing team and admins only (``backend.marketing.access.ensure_team``): a segment spans
every RM's clients, so an RM, a teller or anyone else gets 403. Views call
``backend.marketing.segments.service`` and ``queries``; docs/marketing.md, "Segments".
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from backend.marketing.segments import queries, service
from miniapp_api.common import PageArgs, StrictSchema, Timestamp, current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "marketing_segments",
    __name__,
    url_prefix="/api/v1/marketing/segments",
    description="Client segments: rule builder and model lists (calibrated propensity), size "
    "and overlap before use, frozen lists for campaigns, audited exports (marketing team)",
)

DEFINITION_DOC = {
    "description": "a rule tree ({all|any: [...]}, {not: {...}}, {field, op, value}, {tag}, "
    "{event, within_days}) or a model list ({model: propensity, target, top|min_score, where?}); "
    "docs/marketing.md",
    "example": {
        "all": [
            {"field": "tier", "op": "in", "value": ["affluent", "wealth"]},
            {"tag": "maturing_soon"},
        ]
    },
}


class MktSegmentOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["rule", "model"]})
    definition = ma.fields.Dict(metadata=DEFINITION_DOC)
    size = ma.fields.Integer(allow_none=True, metadata={"description": "members when frozen"})
    sized_at = Timestamp(allow_none=True, metadata={"description": "when it was frozen"})
    frozen = ma.fields.Boolean()
    created_by_user_id = ma.fields.Integer(allow_none=True)
    created_at = Timestamp()


class MktSegmentIn(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    definition = ma.fields.Dict(required=True, metadata=DEFINITION_DOC)


class MktSegmentPatchIn(StrictSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    definition = ma.fields.Dict(metadata=DEFINITION_DOC)


class MktSegmentArgs(PageArgs):
    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("rule", "model")))


AS_OF_RANGE = ma.validate.Range(min=date(1900, 1, 1), max=date(2999, 12, 31))


class MktPreviewIn(StrictSchema):
    definition = ma.fields.Dict(required=True, metadata=DEFINITION_DOC)
    as_of = ma.fields.Date(
        load_default=None, validate=AS_OF_RANGE, metadata={"description": "default: today (UTC)"}
    )


class MktOverlapOut(ma.Schema):
    segment_id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["rule", "model"]})
    frozen = ma.fields.Boolean()
    size = ma.fields.Integer(allow_none=True)
    overlap = ma.fields.Integer(allow_none=True, metadata={"description": "clients in both"})
    jaccard = ma.fields.Float(
        allow_none=True, metadata={"description": "overlap / clients in either"}
    )


class MktPreviewOut(ma.Schema):
    kind = ma.fields.String(metadata={"enum": ["rule", "model"]})
    as_of = ma.fields.Date()
    size = ma.fields.Integer()
    by_tier = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_outlet = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    overlap = ma.fields.List(ma.fields.Nested(MktOverlapOut))
    model = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "a model list's model: version, training source and held-out "
            "figures (AUC, Brier, ECE, reliability bins)"
        },
    )


class MktFreezeIn(StrictSchema):
    as_of = ma.fields.Date(
        load_default=None, validate=AS_OF_RANGE, metadata={"description": "default: today (UTC)"}
    )


class MktFreezeOut(ma.Schema):
    segment = ma.fields.Nested(MktSegmentOut)
    size = ma.fields.Integer()
    tagged = ma.fields.Integer(metadata={"description": "clients given the model tag"})
    model = ma.fields.Dict(allow_none=True)


class MktExportIn(StrictSchema):
    purpose = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=3, max=200),
        metadata={"description": "why the list leaves FinEdge (recorded and audited)"},
    )


CSV_DOC = {
    "responses": {
        "200": {
            "description": "The list as CSV (UTF-8 with BOM): client_no, name, tier, outlet, rm. "
            "Headers X-Export-Id and X-Export-Sha256 name its record in mkt_exports.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


@blp.route("")
class Segments(MethodView):
    @blp.arguments(MktSegmentArgs, location="query")
    @blp.response(200, page_schema(MktSegmentOut, "MarketingSegmentPage"))
    def get(self, args):
        """Saved segments, newest first (filter: kind)."""
        return queries.list_segments(db(), current_actor(), **args)

    @blp.arguments(MktSegmentIn)
    @blp.response(201, MktSegmentOut)
    def post(self, body):
        """Save a segment: a rule tree or a model list, checked strictly (400
        invalid_definition with the path of each bad node; 409 segment_name_taken)."""
        session, actor = db(), current_actor()
        segment = service.create_segment(session, actor, **body)
        return queries.segment_detail(session, actor, segment.id)


@blp.route("/preview")
class Preview(MethodView):
    @blp.arguments(MktPreviewIn)
    @blp.response(200, MktPreviewOut)
    def post(self, body):
        """Size of a definition before use: members, per tier and per outlet, and overlap
        (count and Jaccard) with each saved segment; a model list comes with its model's
        held-out figures. Saves nothing (422 not_enough_training_data for a model list
        without data to learn from)."""
        return queries.preview(db(), current_actor(), body["definition"], as_of=body["as_of"])


@blp.route("/<int:segment_id>")
class SegmentDetail(MethodView):
    @blp.response(200, MktSegmentOut)
    def get(self, segment_id):
        """One segment."""
        return queries.segment_detail(db(), current_actor(), segment_id)

    @blp.arguments(MktSegmentPatchIn)
    @blp.response(200, MktSegmentOut)
    def patch(self, body, segment_id):
        """Rename, or change the definition (409 segment_frozen once frozen); audited."""
        session, actor = db(), current_actor()
        service.update_segment(session, actor, segment_id, **body)
        return queries.segment_detail(session, actor, segment_id)

    @blp.response(204)
    def delete(self, segment_id):
        """Delete a segment no campaign uses and nobody exported (409 segment_in_use,
        segment_exported); audited."""
        service.delete_segment(db(), current_actor(), segment_id)
        return None


@blp.route("/<int:segment_id>/freeze")
class Freeze(MethodView):
    @blp.arguments(MktFreezeIn)
    @blp.response(200, MktFreezeOut)
    def post(self, body, segment_id):
        """Materialise the members (a model list with its scores, and its clients tagged with
        the model tag) into the frozen list a campaign uses; once (409 segment_frozen)."""
        session, actor = db(), current_actor()
        result = service.freeze_segment(session, actor, segment_id, as_of=body["as_of"])
        return {
            "segment": queries.segment_detail(session, actor, segment_id),
            "size": result.size,
            "tagged": result.tagged,
            "model": result.model,
        }


@blp.route("/<int:segment_id>/export")
class ExportList(MethodView):
    @blp.arguments(MktExportIn)
    @blp.doc(**CSV_DOC)
    def post(self, body, segment_id):
        """Export the list as CSV with its purpose: recorded in mkt_exports (rows, SHA-256,
        who) and audited. The marketing team only (an RM: 403). A POST, not a GET: an export
        is a recorded act, and a GET changes nothing."""
        export = service.export_segment(db(), current_actor(), segment_id, purpose=body["purpose"])
        return Response(
            export.body,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f"attachment; filename={export.filename}",
                "X-Export-Id": str(export.record.id),
                "X-Export-Sha256": export.record.sha256,
            },
        )


class MktVocabularyOut(ma.Schema):
    fields = ma.fields.Dict(metadata={"description": "field -> {kind, ops, choices, low, high}"})
    events = ma.fields.List(ma.fields.String())
    models = ma.fields.List(ma.fields.String())
    targets = ma.fields.List(ma.fields.String())
    max_depth = ma.fields.Integer()
    max_leaves = ma.fields.Integer()


@blp.route("/vocabulary")
class Vocabulary(MethodView):
    @blp.response(200, MktVocabularyOut)
    def get(self):
        """What a definition may name: fields with their ops and choices, event kinds, model
        lists and propensity targets, limits (the console's builder reads it)."""
        return queries.vocabulary(current_actor())
