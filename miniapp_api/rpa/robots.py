"""Robots (``/api/v1/rpa/robots``): the registry (admins deploy, roll back, enable, disable),
runs started by hand or API, items and files queued for a robot, and the maker-checker review
of BUSINESS-failed items. An operator sees and runs only their department's robots (another
department's robot is 404); other roles 403."""

from __future__ import annotations

import base64
import binascii

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from backend.platform.errors import ValidationFailed
from backend.platform.pagination import paginate
from backend.rpa import registry, service
from backend.rpa.access import ensure_factory_user, scope
from backend.rpa.models import RobotRecord, RobotVersion
from miniapp_api.common import PageArgs, StrictSchema, Timestamp, current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "rpa_robots",
    __name__,
    url_prefix="/api/v1/rpa",
    description="Robot factory: robots, runs, work items, files and reviews",
)


class RpaVersionOut(ma.Schema):
    id = ma.fields.Integer()
    version = ma.fields.String()
    entry_point = ma.fields.String()
    deployed_by = ma.fields.String()
    deployed_at = Timestamp()


class RpaRobotOut(ma.Schema):
    name = ma.fields.String()
    title = ma.fields.String()
    department = ma.fields.String()
    enabled = ma.fields.Boolean()
    version = ma.fields.String(allow_none=True)
    manifest = ma.fields.Dict(allow_none=True)
    versions = ma.fields.List(ma.fields.Nested(RpaVersionOut))


RpaRobotPage = page_schema(RpaRobotOut, "RpaRobotPage")


class RpaDeployIn(StrictSchema):
    entry_point = ma.fields.String(required=True, validate=ma.validate.Length(max=200))


class RpaRollbackIn(StrictSchema):
    to_version = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))


class RpaRunIn(StrictSchema):
    params = ma.fields.Dict(load_default=dict)


class RpaRunStartedOut(ma.Schema):
    id = ma.fields.Integer()
    robot = ma.fields.String()
    trigger = ma.fields.String()
    status = ma.fields.String()
    items_total = ma.fields.Integer()
    items_done = ma.fields.Integer()
    items_failed = ma.fields.Integer()
    created_at = Timestamp()


class RpaItemIn(StrictSchema):
    payload = ma.fields.Dict(required=True)


class RpaItemQueuedOut(ma.Schema):
    id = ma.fields.Integer()
    run_id = ma.fields.Integer()
    state = ma.fields.String()
    attempts = ma.fields.Integer()
    failure_kind = ma.fields.String(allow_none=True)
    failure_code = ma.fields.String(allow_none=True)


class RpaFileIn(StrictSchema):
    filename = ma.fields.String(load_default="upload", validate=ma.validate.Length(max=120))
    content_type = ma.fields.String(required=True, validate=ma.validate.OneOf(service.UPLOAD_TYPES))
    data_base64 = ma.fields.String(required=True, validate=ma.validate.Length(min=4))


class RpaFileOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()
    sha256 = ma.fields.String()


class RpaProposeIn(StrictSchema):
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(("retry", "close")))
    corrected_payload = ma.fields.Dict(load_default=None, allow_none=True)
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class RpaCheckIn(StrictSchema):
    approve = ma.fields.Boolean(required=True)


class RpaReviewDecisionOut(ma.Schema):
    id = ma.fields.Integer()
    item_id = ma.fields.Integer()
    department = ma.fields.String()
    status = ma.fields.String()
    action = ma.fields.String(allow_none=True)
    corrected_payload = ma.fields.Dict(allow_none=True)
    note = ma.fields.String(allow_none=True)
    proposed_by = ma.fields.Integer(allow_none=True)
    checked_by = ma.fields.Integer(allow_none=True)
    retry_item_id = ma.fields.Integer(allow_none=True)


def _robot_out(session, robot: RobotRecord) -> dict:
    versions = list(
        session.scalars(
            select(RobotVersion).where(RobotVersion.robot_id == robot.id).order_by(RobotVersion.id)
        )
    )
    active = next((v for v in versions if v.id == robot.active_version_id), None)
    return {
        "name": robot.name,
        "title": robot.title,
        "department": robot.department,
        "enabled": robot.enabled,
        "version": active.version if active else None,
        "manifest": active.manifest if active else None,
        "versions": versions,
    }


def _run_out(run, name: str) -> dict:
    return {
        "id": run.id,
        "robot": name,
        "trigger": run.trigger,
        "status": run.status,
        "items_total": run.items_total,
        "items_done": run.items_done,
        "items_failed": run.items_failed,
        "created_at": run.created_at,
    }


@blp.route("/robots")
class Robots(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RpaRobotPage)
    def get(self, args):
        """The robots of the caller's department (an admin: all), in deployment order."""
        session, actor = db(), current_actor()
        department = ensure_factory_user(session, actor)
        stmt = scope(select(RobotRecord), RobotRecord.department, department)
        page = paginate(
            session, stmt, RobotRecord.id, limit=args.get("limit"), cursor=args.get("cursor")
        )
        return {
            "items": [_robot_out(session, r) for r in page.items],
            "next_cursor": page.next_cursor,
        }

    @blp.arguments(RpaDeployIn)
    @blp.response(201, RpaRobotOut)
    def post(self, body):
        """Deploy (and activate) the version a robot's entry point declares (admin). The same
        version again changes nothing; the same version with other code is 409."""
        session, actor = db(), current_actor()
        version = registry.deploy(session, actor, body["entry_point"])
        return _robot_out(session, session.get(RobotRecord, version.robot_id))


@blp.route("/robots/<string:name>/rollback")
class Rollback(MethodView):
    @blp.arguments(RpaRollbackIn)
    @blp.response(200, RpaRobotOut)
    def post(self, body, name):
        """Make the previous (or the named) deployed version active again (admin)."""
        session = db()
        registry.rollback(session, current_actor(), name, body["to_version"])
        return _robot_out(session, registry.robot_by_name(session, name))


@blp.route("/robots/<string:name>/enable")
class Enable(MethodView):
    @blp.response(200, RpaRobotOut)
    def post(self, name):
        """Enable a robot (admin)."""
        session = db()
        return _robot_out(session, registry.set_enabled(session, current_actor(), name, True))


@blp.route("/robots/<string:name>/disable")
class Disable(MethodView):
    @blp.response(200, RpaRobotOut)
    def post(self, name):
        """Disable a robot (admin): it starts no run; its queued items wait."""
        session = db()
        return _robot_out(session, registry.set_enabled(session, current_actor(), name, False))


@blp.route("/robots/<string:name>/runs")
class Runs(MethodView):
    @blp.arguments(RpaRunIn)
    @blp.response(201, RpaRunStartedOut)
    def post(self, body, name):
        """Start a run now (by API). With an Idempotency-Key a retried call starts one run."""
        session = db()
        run = service.start_run(
            session, current_actor(), name, trigger="api", params=body["params"]
        )
        session.flush()
        return _run_out(run, name)


@blp.route("/robots/<string:name>/items")
class Items(MethodView):
    @blp.arguments(RpaItemIn)
    @blp.response(201, RpaItemQueuedOut)
    def post(self, body, name):
        """Queue one work item for the robot (checked against its input schema)."""
        session = db()
        item = service.queue_item(session, current_actor(), name, body["payload"])
        session.flush()
        return item


@blp.route("/robots/<string:name>/files")
class Files(MethodView):
    @blp.arguments(RpaFileIn)
    @blp.response(201, RpaFileOut)
    def post(self, body, name):
        """Keep a scan (PNG or JPEG, base64) for the robot's department; name its id in an
        item's payload (the OCR robot's ``artefact_id``)."""
        try:
            data = base64.b64decode(body["data_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("data_base64 is not base64") from None
        return service.upload(
            db(), current_actor(), name, data, body["content_type"], body["filename"]
        )


@blp.route("/reviews/<int:review_id>/propose")
class Propose(MethodView):
    @blp.arguments(RpaProposeIn)
    @blp.response(200, RpaReviewDecisionOut)
    def post(self, body, review_id):
        """The maker: retry the item (optionally with a corrected payload) or close it."""
        return service.propose(
            db(),
            current_actor(),
            review_id,
            body["action"],
            corrected_payload=body["corrected_payload"],
            note=body["note"],
        )


@blp.route("/reviews/<int:review_id>/check")
class Check(MethodView):
    @blp.arguments(RpaCheckIn)
    @blp.response(200, RpaReviewDecisionOut)
    def post(self, body, review_id):
        """The checker, another person of the department: approve (the item is retried or
        closed) or send the proposal back."""
        return service.check(db(), current_actor(), review_id, body["approve"])
