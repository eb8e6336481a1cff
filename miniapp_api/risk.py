"""Risk early warning ("dragon shield"): signals, the warning workflow, the inbox, the unified
enterprise view and its knowledge graph, feed ingestion, scans and the model registry.

Roles: admin, approver and rm read risk data (an RM only the enterprises assigned to them:
another RM's is 404); every other role is 403.  Hard signals need maker-checker decisions.
Use cases: backend/risk/service/ (writes) and backend/risk/queries/ (reads); documentation:
docs/risk.md.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from backend.risk import catalog, queries, service
from backend.risk.models import SIGNAL_STATUSES
from miniapp_api.common import (
    Money,
    PageArgs,
    StrictSchema,
    Timestamp,
    current_actor,
    db,
    page_schema,
)
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "risk",
    __name__,
    url_prefix="/api/v1/risk",
    description="Risk early warning: signals, workflow, inbox, enterprise view and graph, feeds",
)


FEED_BODY_LIMIT = 16 * 1024 * 1024


def live():
    return current_app.extensions["finedge"].live


# --------------------------------------------------------------------------- schemas


class SignalOut(ma.Schema):
    id = ma.fields.Integer()
    enterprise_id = ma.fields.Integer()
    enterprise_name = ma.fields.String()
    credit_code = ma.fields.String(allow_none=True)
    origin = ma.fields.String(metadata={"enum": list(catalog.ORIGINS)})
    rule_id = ma.fields.String()
    rule_version = ma.fields.String()
    level = ma.fields.String(metadata={"enum": list(catalog.LEVELS)})
    base_level = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(SIGNAL_STATUSES)})
    blocking = ma.fields.Boolean(metadata={"description": "blocks disbursement"})
    reason = ma.fields.String()
    score = ma.fields.Float(allow_none=True)
    occurrences = ma.fields.Integer()
    raised_at = Timestamp()
    last_seen_at = Timestamp()
    escalated_at = Timestamp(allow_none=True)
    closed_at = Timestamp(allow_none=True)
    pending_decision = ma.fields.String(allow_none=True)
    proposed_by_user_id = ma.fields.Integer(allow_none=True)
    proposed_comment = ma.fields.String(allow_none=True)
    decided_by_user_id = ma.fields.Integer(allow_none=True)
    decision_comment = ma.fields.String(allow_none=True)


class SignalEventOut(SignalOut):
    """The ``risk.signal`` push: the signal as the API shows it, and what happened to it."""

    event = ma.fields.String(metadata={"description": "raised|escalated|… (what happened)"})


class ReviewOut(ma.Schema):
    step = ma.fields.String(metadata={"enum": ["propose", "approve", "reject", "decide"]})
    decision = ma.fields.String()
    comment = ma.fields.String()
    user_id = ma.fields.Integer(allow_none=True)
    username = ma.fields.String()
    at = Timestamp()


class SignalDetailOut(SignalOut):
    evidence = ma.fields.Dict(
        metadata={"description": "events, features, tags, model contributions"}
    )
    reviews = ma.fields.List(ma.fields.Nested(ReviewOut))


class SignalArgs(PageArgs):
    level = ma.fields.String(validate=ma.validate.OneOf(catalog.LEVELS))
    status = ma.fields.String(
        validate=ma.validate.OneOf([*SIGNAL_STATUSES, "active", "all"]),
        metadata={"description": "default: active (open, pending_review, confirmed)"},
    )
    origin = ma.fields.String(validate=ma.validate.OneOf(catalog.ORIGINS))
    enterprise_id = ma.fields.Integer()


class CommentIn(StrictSchema):
    comment = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class InboxItemOut(ma.Schema):
    id = ma.fields.Integer()
    reason = ma.fields.String(
        metadata={"enum": ["raised", "escalated", "review_requested", "decided"]}
    )
    created_at = Timestamp()
    read_at = Timestamp(allow_none=True)
    signal = ma.fields.Nested(SignalOut)


class InboxArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False)


class EnterpriseOut(ma.Schema):
    id = ma.fields.Integer()
    credit_code = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    status = ma.fields.String()
    registered_capital = Money(allow_none=True)
    established_on = ma.fields.String(allow_none=True)
    industry = ma.fields.String(allow_none=True)
    region = ma.fields.String(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)
    rm_user_id = ma.fields.Integer(allow_none=True)
    risk_level = ma.fields.String(allow_none=True)
    risk_score = ma.fields.Float(allow_none=True)
    scanned_at = Timestamp(allow_none=True)


class EnterpriseArgs(PageArgs):
    q = ma.fields.String(metadata={"description": "credit code, or part of the name"})
    level = ma.fields.String(validate=ma.validate.OneOf(catalog.LEVELS))
    tag = ma.fields.String()


class EnterprisePatch(StrictSchema):
    rm_user_id = ma.fields.Integer(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)


class TagOut(ma.Schema):
    code = ma.fields.String()
    label = ma.fields.String()
    reason = ma.fields.String()
    evidence = ma.fields.Dict()
    since = ma.fields.String()


class EventOut(ma.Schema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    external_id = ma.fields.String()
    category = ma.fields.String()
    kind = ma.fields.String()
    severity = ma.fields.String()
    title = ma.fields.String()
    data = ma.fields.Dict()
    source_time = ma.fields.String()
    ingested_at = Timestamp()
    revision = ma.fields.Integer()


class EventArgs(PageArgs):
    source = ma.fields.String()
    category = ma.fields.String(validate=ma.validate.OneOf(catalog.CATEGORIES))


class SourceEventsOut(ma.Schema):
    source = ma.fields.String()
    count = ma.fields.Integer()
    latest = ma.fields.String(allow_none=True)
    categories = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    recent = ma.fields.List(ma.fields.Nested(EventOut))


class SourceValueOut(ma.Schema):
    source = ma.fields.String()
    value = ma.fields.String()
    source_time = ma.fields.String()


class DifferenceOut(ma.Schema):
    attribute = ma.fields.String()
    values = ma.fields.List(ma.fields.Nested(SourceValueOut))


class NamedOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String(allow_none=True)


class PathNodeOut(ma.Schema):
    node = ma.fields.String()
    name = ma.fields.String(allow_none=True)


class HolderOut(ma.Schema):
    node = ma.fields.String(metadata={"description": "enterprise:<id> or person:<id>"})
    type = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    share = ma.fields.Float(metadata={"description": "integrated share over all holding chains"})
    paths = ma.fields.Integer()
    example_path = ma.fields.List(ma.fields.Nested(PathNodeOut))
    truncated = ma.fields.Boolean()


class CircleOut(ma.Schema):
    size = ma.fields.Integer()
    members = ma.fields.List(ma.fields.Nested(NamedOut))


class GraphSummaryOut(ma.Schema):
    edges_by_kind = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    related_within_2_hops = ma.fields.Integer(allow_none=True)
    related_risk = ma.fields.Float(allow_none=True)
    guarantee_circle = ma.fields.Nested(CircleOut)
    mutual_guarantees = ma.fields.List(ma.fields.Nested(NamedOut))
    ultimate_controller = ma.fields.Nested(HolderOut, allow_none=True)
    ultimate_holders = ma.fields.List(ma.fields.Nested(HolderOut))


class ModelScoreOut(ma.Schema):
    model_id = ma.fields.Integer()
    name = ma.fields.String()
    version = ma.fields.Integer()
    algorithm = ma.fields.String()
    probability = ma.fields.Float()


class ViewSignalOut(SignalOut):
    evidence = ma.fields.Dict()


class ViewOut(ma.Schema):
    enterprise = ma.fields.Nested(EnterpriseOut)
    tags = ma.fields.List(ma.fields.Nested(TagOut))
    signals = ma.fields.List(ma.fields.Nested(ViewSignalOut))
    blocking = ma.fields.Boolean(metadata={"description": "disbursement blocked by a hard signal"})
    events_by_source = ma.fields.List(ma.fields.Nested(SourceEventsOut))
    source_differences = ma.fields.List(ma.fields.Nested(DifferenceOut))
    graph = ma.fields.Nested(GraphSummaryOut)
    model = ma.fields.Nested(ModelScoreOut, allow_none=True)


class GraphArgs(StrictSchema):
    depth = ma.fields.Integer(
        load_default=2, validate=ma.validate.Range(min=1, max=queries.MAX_DEPTH)
    )


class NodeOut(ma.Schema):
    id = ma.fields.String(metadata={"description": "enterprise:<id> or person:<id>"})
    type = ma.fields.String()
    db_id = ma.fields.Integer()
    hop = ma.fields.Integer(allow_none=True)
    name = ma.fields.String(allow_none=True)
    credit_code = ma.fields.String(allow_none=True)
    risk_level = ma.fields.String(allow_none=True)


class EdgeOut(ma.Schema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    target = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(catalog.EDGE_KINDS)})
    share = ma.fields.Float(allow_none=True)
    amount = Money(allow_none=True)
    volume = Money(allow_none=True)
    role = ma.fields.String(allow_none=True)


class GraphOut(ma.Schema):
    enterprise_id = ma.fields.Integer()
    depth = ma.fields.Integer()
    truncated = ma.fields.Boolean()
    nodes = ma.fields.List(ma.fields.Nested(NodeOut))
    edges = ma.fields.List(ma.fields.Nested(EdgeOut))
    guarantee_circle = ma.fields.List(ma.fields.Integer())
    ultimate_controller = ma.fields.Nested(HolderOut, allow_none=True)
    ultimate_holders = ma.fields.List(ma.fields.Nested(HolderOut))


class FeedIn(StrictSchema):
    records = ma.fields.List(
        ma.fields.Raw(metadata={"type": "object"}),
        required=True,
        validate=ma.validate.Length(min=1, max=5000),
        metadata={"description": "feed records (docs/risk.md, 'Feed format')"},
    )


class RejectionOut(ma.Schema):
    index = ma.fields.Integer()
    line = ma.fields.Integer()
    record_id = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    message = ma.fields.String()


class QueuedOut(ma.Schema):
    index = ma.fields.Integer()
    record_id = ma.fields.String()
    reason = ma.fields.String(
        metadata={"enum": ["unknown_credit_code", "unresolved_enterprise", "ambiguous_name"]}
    )
    item_id = ma.fields.Integer(metadata={"description": "the review item (GET /resolution)"})
    credit_code = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)


class IngestOut(ma.Schema):
    source = ma.fields.String()
    feed_run_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["ok", "failed"]})
    error = ma.fields.String(allow_none=True)
    quarantined_to = ma.fields.String(allow_none=True)
    received = ma.fields.Integer()
    accepted = ma.fields.Integer()
    duplicates = ma.fields.Integer()
    updated = ma.fields.Integer()
    rejected = ma.fields.Integer()
    rejections = ma.fields.List(ma.fields.Nested(RejectionOut))
    queued = ma.fields.Integer(
        metadata={"description": "records naming an unknown enterprise, held for review"}
    )
    queued_items = ma.fields.List(ma.fields.Nested(QueuedOut))
    enterprises_touched = ma.fields.Integer()
    enterprises_created = ma.fields.Integer()
    released_from_queue = ma.fields.Integer(
        metadata={"description": "held records of enterprises this load registered, now loaded"}
    )
    signals = ma.fields.Dict()


class FeedRunOut(ma.Schema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    adapter = ma.fields.String()
    location = ma.fields.String(allow_none=True)
    cursor = ma.fields.String(allow_none=True)
    started_at = Timestamp()
    finished_at = Timestamp(allow_none=True)
    received = ma.fields.Integer()
    accepted = ma.fields.Integer()
    duplicates = ma.fields.Integer()
    updated = ma.fields.Integer()
    rejected = ma.fields.Integer()
    rejections = ma.fields.Dict(
        metadata={"description": "items (rejections), queued and queued_items (held records)"}
    )
    actor = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["ok", "failed"]})
    error = ma.fields.String(allow_none=True)
    quarantined_to = ma.fields.String(allow_none=True)


class ResolutionItemOut(ma.Schema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    record_id = ma.fields.String()
    credit_code = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    reason = ma.fields.String(
        metadata={"enum": ["unknown_credit_code", "unresolved_enterprise", "ambiguous_name"]}
    )
    status = ma.fields.String(metadata={"enum": ["pending", "resolved", "rejected"]})
    record = ma.fields.Dict(metadata={"description": "the record as received"})
    enterprise_id = ma.fields.Integer(allow_none=True)
    created_at = Timestamp()
    decided_at = Timestamp(allow_none=True)
    decided_by = ma.fields.String(allow_none=True)
    comment = ma.fields.String(allow_none=True)


class ResolutionArgs(PageArgs):
    status = ma.fields.String(
        load_default="pending",
        validate=ma.validate.OneOf(["pending", "resolved", "rejected", "all"]),
    )
    source = ma.fields.String()


class ResolveIn(StrictSchema):
    enterprise_id = ma.fields.Integer(
        metadata={"description": "the known enterprise the record is about"}
    )
    create = ma.fields.Boolean(
        metadata={"description": "true: create the enterprise the record names"}
    )
    comment = ma.fields.String(validate=ma.validate.Length(max=2000))


class ResolveOut(ma.Schema):
    item = ma.fields.Nested(ResolutionItemOut)
    enterprise_id = ma.fields.Integer()
    created = ma.fields.Boolean()
    resolved_items = ma.fields.Integer(
        metadata={"description": "this item and the other pending items naming the same"}
    )
    loaded = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "accepted, updated, duplicates, rejected, queued"},
    )


class AliasOut(ma.Schema):
    id = ma.fields.Integer()
    enterprise_id = ma.fields.Integer()
    name = ma.fields.String()
    normalized_name = ma.fields.String()
    source = ma.fields.String()
    created_at = Timestamp()


class ScanOut(ma.Schema):
    id = ma.fields.Integer()
    trigger = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["running", "ok", "failed"]})
    phase = ma.fields.String()
    total = ma.fields.Integer()
    done = ma.fields.Integer()
    started_at = Timestamp()
    finished_at = Timestamp(allow_none=True)
    ruleset_version = ma.fields.String()
    model_id = ma.fields.Integer(allow_none=True)
    report = ma.fields.Dict(allow_none=True)


class ModelOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    version = ma.fields.Integer()
    algorithm = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["champion", "challenger", "retired"]})
    thresholds = ma.fields.Dict()
    metrics = ma.fields.Dict()
    params = ma.fields.Dict()
    training = ma.fields.Dict()
    feature_names = ma.fields.List(ma.fields.String())
    trained_at = Timestamp()
    trained_by = ma.fields.String()
    promoted_at = Timestamp(allow_none=True)
    artifact_sha256 = ma.fields.String()


class TrainOut(ma.Schema):
    models = ma.fields.List(ma.fields.Dict())
    training = ma.fields.Dict()
    baseline_oot_auc = ma.fields.Float(allow_none=True)
    skew = ma.fields.Dict()
    not_champion_because = ma.fields.String()


class BacktestSummaryOut(ma.Schema):
    warned_strong_share = ma.fields.Float(allow_none=True)
    warned_30_days_share = ma.fields.Float(allow_none=True)
    lead_days_median = ma.fields.Float(allow_none=True)
    false_alarm_rate = ma.fields.Float(allow_none=True)
    precision_12m = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(allow_none=True))
    alerts_per_week_per_1000 = ma.fields.Float(allow_none=True)
    auc = ma.fields.Float(allow_none=True)
    baseline_auc = ma.fields.Float(allow_none=True)


class BacktestOut(ma.Schema):
    id = ma.fields.Integer()
    subject_kind = ma.fields.String(metadata={"enum": ["ruleset", "model"]})
    subject = ma.fields.String(metadata={"description": "ruleset version, or model id"})
    dataset = ma.fields.String()
    dataset_sha256 = ma.fields.String(
        metadata={"description": "deliveries, period and truth: equal means comparable"}
    )
    period_from = ma.fields.String()
    period_to = ma.fields.String()
    created_at = Timestamp()
    created_by = ma.fields.String()
    summary = ma.fields.Nested(BacktestSummaryOut)


class BacktestDetailOut(BacktestOut):
    report = ma.fields.Dict(metadata={"description": "the full report (docs/risk.md)"})


class BacktestArgs(PageArgs):
    subject_kind = ma.fields.String(validate=ma.validate.OneOf(["ruleset", "model"]))
    subject = ma.fields.String()


class RulesetOut(ma.Schema):
    version = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["champion", "challenger", "retired"]})
    in_force = ma.fields.Boolean()
    rules = ma.fields.Integer()
    promoted_at = Timestamp(allow_none=True)
    promoted_by = ma.fields.String(allow_none=True)
    latest_backtest = ma.fields.Nested(BacktestOut, allow_none=True)
    champion_backtest = ma.fields.Nested(
        BacktestOut,
        allow_none=True,
        metadata={"description": "the champion's backtest on the same dataset"},
    )


class PromotionIn(StrictSchema):
    subject_kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["ruleset", "model"]))
    subject = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "ruleset version, or model id or name:version"},
    )
    challenger_backtest_id = ma.fields.Integer(required=True)
    comment = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class PromotionOut(ma.Schema):
    id = ma.fields.Integer()
    subject_kind = ma.fields.String()
    subject = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["pending", "approved", "rejected"]})
    proposed_by = ma.fields.String()
    proposed_comment = ma.fields.String()
    proposed_at = Timestamp()
    decided_by = ma.fields.String(allow_none=True)
    decision_comment = ma.fields.String(allow_none=True)
    decided_at = Timestamp(allow_none=True)
    challenger_backtest = ma.fields.Nested(BacktestOut)
    champion_backtest = ma.fields.Nested(BacktestOut, allow_none=True)


class PromotionArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(["pending", "approved", "rejected"]))


# --------------------------------------------------------------------------- signals


@blp.route("/signals")
class Signals(MethodView):
    @blp.arguments(SignalArgs, location="query")
    @blp.response(200, page_schema(SignalOut, "RiskSignalPage"))
    def get(self, args):
        """Signals the caller may see, newest first (active ones unless ``status`` says)."""
        return queries.list_signals(db(), current_actor(), **args)


@blp.route("/signals/<int:signal_id>")
class SignalDetail(MethodView):
    @blp.response(200, SignalDetailOut)
    def get(self, signal_id):
        """One signal with its evidence and workflow history."""
        return queries.get_signal(db(), current_actor(), signal_id)


def _decision_view(decision: str):
    @blp.arguments(CommentIn)
    @blp.response(200, SignalDetailOut)
    def post(self, body, signal_id):
        return service.decide_signal(
            db(), current_actor(), signal_id, decision, body["comment"], live=live()
        )

    post.__doc__ = (
        f"Maker: {decision} the signal with a comment. On a hard signal this proposes the "
        "decision (status pending_review) for a checker; below hard it applies at once."
    )
    return type(f"Signal{decision.title()}", (MethodView,), {"post": post})


for _decision in ("confirm", "dismiss", "lift"):
    blp.route(f"/signals/<int:signal_id>/{_decision}")(_decision_view(_decision))


def _check_view(approve: bool):
    @blp.arguments(CommentIn)
    @blp.response(200, SignalDetailOut)
    def post(self, body, signal_id):
        return service.check_signal(
            db(), current_actor(), signal_id, approve, body["comment"], live=live()
        )

    post.__doc__ = "Checker (approver, not the maker): " + (
        "approve the pending decision, which applies it."
        if approve
        else "reject the pending decision."
    )
    return type("SignalApprove" if approve else "SignalReject", (MethodView,), {"post": post})


blp.route("/signals/<int:signal_id>/approve")(_check_view(True))
blp.route("/signals/<int:signal_id>/reject")(_check_view(False))


# --------------------------------------------------------------------------- inbox


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, page_schema(InboxItemOut, "RiskInboxPage"))
    def get(self, args):
        """The caller's risk inbox: signals routed to them, newest first."""
        return queries.list_inbox(db(), current_actor(), **args)


@blp.route("/inbox/<int:item_id>/read")
class InboxRead(MethodView):
    @blp.response(200, InboxItemOut)
    def post(self, item_id):
        """Mark one inbox item read."""
        return service.mark_read(db(), current_actor(), item_id)


# --------------------------------------------------------------------------- enterprises


@blp.route("/enterprises")
class Enterprises(MethodView):
    @blp.arguments(EnterpriseArgs, location="query")
    @blp.response(200, page_schema(EnterpriseOut, "RiskEnterprisePage"))
    def get(self, args):
        """Enterprises the caller may see (an RM: their own)."""
        return queries.list_enterprises(db(), current_actor(), **args)


@blp.route("/enterprises/<int:enterprise_id>")
class EnterpriseDetail(MethodView):
    @blp.arguments(EnterprisePatch)
    @blp.response(200, EnterpriseOut)
    def patch(self, body, enterprise_id):
        """Assign the relationship manager or link an org (approver, admin)."""
        return service.update_enterprise(db(), current_actor(), enterprise_id, changes=body)


@blp.route("/enterprises/<int:enterprise_id>/view")
class EnterpriseView(MethodView):
    @blp.response(200, ViewOut)
    def get(self, enterprise_id):
        """The unified risk view: tags, active signals, events by source, differences between
        sources, graph summary (circle, mutual guarantees, ultimate controller), model score."""
        return queries.get_enterprise_view(db(), current_actor(), enterprise_id)


@blp.route("/enterprises/<int:enterprise_id>/graph")
class EnterpriseGraph(MethodView):
    @blp.arguments(GraphArgs, location="query")
    @blp.response(200, GraphOut)
    def get(self, args, enterprise_id):
        """Related parties within ``depth`` hops (nodes, edges), the guarantee circle and the
        ultimate controller."""
        return queries.get_enterprise_graph(
            db(), current_actor(), enterprise_id, depth=args["depth"]
        )


@blp.route("/enterprises/<int:enterprise_id>/aliases")
class EnterpriseAliases(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(AliasOut, "RiskAliasPage"))
    def get(self, args, enterprise_id):
        """The other spellings of the enterprise's name that records resolve to it by."""
        return queries.list_aliases(db(), current_actor(), enterprise_id, **args)


@blp.route("/enterprises/<int:enterprise_id>/aliases/<int:alias_id>")
class EnterpriseAliasItem(MethodView):
    @blp.response(200, AliasOut)
    def delete(self, enterprise_id, alias_id):
        """Remove a wrong alias (approver, admin; audited): the name no longer resolves to
        this enterprise (e.g. a real firm's name a phantom enterprise took)."""
        return service.delete_alias(db(), current_actor(), enterprise_id, alias_id)


@blp.route("/enterprises/<int:enterprise_id>/events")
class EnterpriseEvents(MethodView):
    @blp.arguments(EventArgs, location="query")
    @blp.response(200, page_schema(EventOut, "RiskEventPage"))
    def get(self, args, enterprise_id):
        """The enterprise's events with provenance, newest first."""
        return queries.list_events(db(), current_actor(), enterprise_id, **args)


# --------------------------------------------------------------------------- feeds, scans, models


@blp.route("/feeds/<string:source>")
class Feed(MethodView):
    # 5,000 records per request are documented; the app-wide 1 MiB holds only ~4,500 small
    # ones: this endpoint takes up to 16 MiB (5,000 records of about 3 KB each)
    max_body_bytes = FEED_BODY_LIMIT

    @blp.arguments(FeedIn)
    @blp.response(200, IngestOut)
    def post(self, body, source):
        """Ingest a batch of feed records from ``source`` (admin). Idempotent per record id;
        malformed records are rejected with a reason while the rest load."""
        report = service.ingest_feed(db(), current_actor(), source, body["records"], live=live())
        return report.as_dict()


@blp.route("/resolution")
class Resolution(MethodView):
    @blp.arguments(ResolutionArgs, location="query")
    @blp.response(200, page_schema(ResolutionItemOut, "RiskResolutionPage"))
    def get(self, args):
        """The review queue: records naming an enterprise the bank does not know (an unknown
        credit code, a name matching nobody or several), oldest first (approver, admin)."""
        return queries.list_resolution_items(db(), current_actor(), **args)


@blp.route("/resolution/<int:item_id>/resolve")
class ResolutionResolve(MethodView):
    @blp.arguments(ResolveIn)
    @blp.response(200, ResolveOut)
    def post(self, body, item_id):
        """Attach the held record, and every pending one naming the same, to a known
        enterprise (``enterprise_id``) or to a new one (``create: true``), and load them
        (approver, admin; audited)."""
        return service.resolve_item(
            db(),
            current_actor(),
            item_id,
            enterprise_id=body.get("enterprise_id"),
            create=bool(body.get("create")),
            comment=body.get("comment"),
            live=live(),
        )


@blp.route("/resolution/<int:item_id>/reject")
class ResolutionReject(MethodView):
    @blp.arguments(CommentIn)
    @blp.response(200, ResolutionItemOut)
    def post(self, body, item_id):
        """Keep the held record out, with a comment (approver, admin; audited)."""
        return service.reject_item(db(), current_actor(), item_id, body["comment"])


@blp.route("/feeds/runs")
class FeedRuns(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(FeedRunOut, "RiskFeedRunPage"))
    def get(self, args):
        """Feed loads, newest first (admin)."""
        return queries.list_feed_runs(db(), current_actor(), **args)


@blp.route("/scans")
class Scans(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ScanOut, "RiskScanPage"))
    def get(self, args):
        """Full scans with progress and report, newest first (approver, admin). Start one with
        POST /api/v1/admin/jobs/risk.full_scan/run."""
        return queries.list_scans(db(), current_actor(), **args)


@blp.route("/scans/<int:scan_id>")
class ScanDetail(MethodView):
    @blp.response(200, ScanOut)
    def get(self, scan_id):
        """One scan: phase, done/total while it runs, the report of what changed when done."""
        return queries.get_scan(db(), current_actor(), scan_id)


@blp.route("/models")
class Models(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ModelOut, "RiskModelPage"))
    def get(self, args):
        """The model registry, newest first: champion, challengers and retired models with
        their metrics (approver, admin)."""
        return queries.list_models(db(), current_actor(), **args)


@blp.route("/models/train")
class TrainModels(MethodView):
    @blp.response(200, TrainOut)
    def post(self):
        """Train challengers on the earlier stored history and validate them out of time on
        the later, beside the rule-level baseline and the champion on the same rows; level
        thresholds tuned to the ruleset's targets (admin).  The first model ever becomes
        champion only when it beats the baseline out of time."""
        return service.train_models(db(), current_actor())


@blp.route("/models/<int:model_id>/promote")
class PromoteModel(MethodView):
    @blp.response(200, ModelOut)
    def post(self, model_id):
        """Refused (422 ``promotion_required``): a model becomes champion only through
        POST /promotions (maker-checker, with backtests side by side)."""
        return service.promote_model(db(), current_actor(), model_id)


# --------------------------------------------------------------------------- champion/challenger


@blp.route("/rulesets")
class Rulesets(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(RulesetOut, "RiskRulesetPage"))
    def get(self, args):
        """Rule file versions, newest first: status (champion = in force), rule count, the
        latest backtest and the champion's on the same dataset (approver, admin)."""
        return queries.list_rulesets(db(), current_actor(), **args)


@blp.route("/backtests")
class Backtests(MethodView):
    @blp.arguments(BacktestArgs, location="query")
    @blp.response(200, page_schema(BacktestOut, "RiskBacktestPage"))
    def get(self, args):
        """Saved backtests (``finedge risk backtest --save``), newest first (approver, admin)."""
        return queries.list_backtests(db(), current_actor(), **args)


@blp.route("/backtests/<int:backtest_id>")
class BacktestDetail(MethodView):
    @blp.response(200, BacktestDetailOut)
    def get(self, backtest_id):
        """One backtest with its full report (approver, admin)."""
        return queries.get_backtest(db(), current_actor(), backtest_id)


@blp.route("/promotions")
class Promotions(MethodView):
    @blp.arguments(PromotionArgs, location="query")
    @blp.response(200, page_schema(PromotionOut, "RiskPromotionPage"))
    def get(self, args):
        """Promotions, newest first, with both backtests (approver, admin)."""
        return queries.list_promotions(db(), current_actor(), **args)

    @blp.arguments(PromotionIn)
    @blp.response(201, PromotionOut)
    def post(self, body):
        """Maker (approver, admin): propose a ruleset version or model as champion with its
        backtest. 422 ``champion_backtest_missing`` unless a backtest of the current champion on
        the same dataset exists (it is attached)."""
        return service.propose_promotion(db(), current_actor(), **body)


def _promotion_check_view(approve: bool):
    @blp.arguments(CommentIn)
    @blp.response(200, PromotionOut)
    def post(self, body, promotion_id):
        return service.decide_promotion(
            db(), current_actor(), promotion_id, approve, body["comment"]
        )

    post.__doc__ = "Checker (approver or admin, not the maker: 403 four_eyes_required): " + (
        "approve the promotion, which makes the subject champion."
        if approve
        else "reject the promotion."
    )
    name = "PromotionApprove" if approve else "PromotionReject"
    return type(name, (MethodView,), {"post": post})


blp.route("/promotions/<int:promotion_id>/approve")(_promotion_check_view(True))
blp.route("/promotions/<int:promotion_id>/reject")(_promotion_check_view(False))
