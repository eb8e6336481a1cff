"""Watching the robot factory (``/api/v1/rpa``): the dashboard's figures, runs, work items,
logs, artefacts, reviews waiting for people and open alarms.

Operators see their department's, admins every department's; anyone else is 403 and another
department's object is 404. Everything here reads: starting runs and deciding reviews are the
factory's own endpoints. Views call ``backend.rpa.monitoring`` and ``backend.rpa.service``.
"""

from __future__ import annotations

import re

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView

from backend.rpa import monitoring, service
from backend.rpa.models import FAILURE_KINDS, ITEM_STATES, RUN_STATES, TRIGGERS
from miniapp_api.common import PageArgs, StrictSchema, Timestamp, current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "rpa_monitor",
    __name__,
    url_prefix="/api/v1/rpa",
    description="Robot factory: dashboard, runs, work items, logs, artefacts, reviews, alarms",
)

ROBOT_NAME = ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$")
ID = ma.validate.Range(min=1, max=2**63 - 1)
ITEM_LOG_LINES = 200


# ---------------------------------------------------------------------- schemas


class RpaHourOut(ma.Schema):
    hour = Timestamp(metadata={"description": "the start of the clock hour (UTC)"})
    done = ma.fields.Integer()
    failed = ma.fields.Integer()


class RpaSuccessOut(ma.Schema):
    robot = ma.fields.String()
    done = ma.fields.Integer()
    failed = ma.fields.Integer()
    rate = ma.fields.Float(allow_none=True, metadata={"description": "done / (done + failed)"})


class RpaFailureReasonOut(ma.Schema):
    robot = ma.fields.String()
    failure_kind = ma.fields.String(metadata={"enum": list(FAILURE_KINDS)})
    failure_code = ma.fields.String()
    count = ma.fields.Integer()


class RpaTimeSavedOut(ma.Schema):
    hours = ma.fields.String(metadata={"format": "decimal", "pattern": r"^[0-9]+\.[0-9]{2}$"})
    by_robot = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "robot -> hours (a decimal string)"},
    )


class RpaStuckRunOut(ma.Schema):
    run_id = ma.fields.Integer()
    robot = ma.fields.String()
    last_activity_at = Timestamp()
    quiet_minutes = ma.fields.Integer()
    stale_items = ma.fields.Integer(metadata={"description": "RESERVED items, heartbeat old"})
    reasons = ma.fields.List(ma.fields.String(metadata={"enum": ["quiet", "stale_heartbeat"]}))


class RpaAlarmOut(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    subject = ma.fields.String()
    department = ma.fields.String()
    robot_id = ma.fields.Integer(allow_none=True)
    message = ma.fields.String()
    raised_at = Timestamp()
    cleared_at = Timestamp(allow_none=True)


class RpaRunCountsOut(ma.Schema):
    total = ma.fields.Integer()
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_robot = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
        metadata={"description": "robot -> status -> runs"},
    )


class RpaDashboardOut(ma.Schema):
    department = ma.fields.String(allow_none=True, metadata={"description": "null: all"})
    since = Timestamp()
    until = Timestamp()
    hours = ma.fields.Integer()
    runs = ma.fields.Nested(RpaRunCountsOut)
    items_per_hour = ma.fields.List(ma.fields.Nested(RpaHourOut))
    success = ma.fields.List(ma.fields.Nested(RpaSuccessOut))
    failure_reasons = ma.fields.List(ma.fields.Nested(RpaFailureReasonOut))
    time_saved = ma.fields.Nested(RpaTimeSavedOut)
    stuck_runs = ma.fields.List(ma.fields.Nested(RpaStuckRunOut))
    alarms = ma.fields.List(ma.fields.Nested(RpaAlarmOut))
    reviews = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), metadata={"description": "by status"}
    )


class RpaRunRowOut(ma.Schema):
    id = ma.fields.Integer()
    robot = ma.fields.String()
    robot_id = ma.fields.Integer()
    version_id = ma.fields.Integer()
    department = ma.fields.String()
    trigger = ma.fields.String(metadata={"enum": list(TRIGGERS)})
    requested_by = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(RUN_STATES)})
    produced = ma.fields.Boolean()
    items_total = ma.fields.Integer()
    items_done = ma.fields.Integer()
    items_failed = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    started_at = Timestamp(allow_none=True)
    finished_at = Timestamp(allow_none=True)


class RpaArtefactRefOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()


class RpaRunDetailOut(ma.Schema):
    run = ma.fields.Nested(RpaRunRowOut)
    params = ma.fields.Dict()
    item_counts = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), metadata={"description": "by state"}
    )
    failed_by_kind = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    artefacts = ma.fields.List(ma.fields.Nested(RpaArtefactRefOut))


class RpaLogOut(ma.Schema):
    id = ma.fields.Integer()
    run_id = ma.fields.Integer()
    item_id = ma.fields.Integer(allow_none=True)
    at = Timestamp()
    level = ma.fields.String()
    message = ma.fields.String()


class RpaItemRowOut(ma.Schema):
    id = ma.fields.Integer()
    run_id = ma.fields.Integer()
    robot = ma.fields.String()
    department = ma.fields.String()
    parent_item_id = ma.fields.Integer(allow_none=True)
    state = ma.fields.String(metadata={"enum": list(ITEM_STATES)})
    attempts = ma.fields.Integer()
    max_attempts = ma.fields.Integer()
    failure_kind = ma.fields.String(allow_none=True, metadata={"enum": list(FAILURE_KINDS)})
    failure_code = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    started_at = Timestamp(allow_none=True)
    finished_at = Timestamp(allow_none=True)


class RpaItemDetailOut(ma.Schema):
    item = ma.fields.Nested(RpaItemRowOut)
    payload = ma.fields.Dict()
    result = ma.fields.Dict(allow_none=True)
    failure_message = ma.fields.String(allow_none=True)
    failure_details = ma.fields.Dict(allow_none=True)
    heartbeat_at = Timestamp(allow_none=True)
    reserved_by = ma.fields.String(allow_none=True)
    logs = ma.fields.List(ma.fields.Nested(RpaLogOut), metadata={"description": "first 200"})
    artefacts = ma.fields.List(ma.fields.Nested(RpaArtefactRefOut))


class RpaReviewQueueOut(ma.Schema):
    id = ma.fields.Integer()
    item_id = ma.fields.Integer()
    robot = ma.fields.String()
    department = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["open", "proposed", "resolved"]})
    action = ma.fields.String(allow_none=True, metadata={"enum": ["retry", "close"]})
    corrected_payload = ma.fields.Dict(allow_none=True)
    note = ma.fields.String(allow_none=True)
    proposed_by = ma.fields.Integer(allow_none=True)
    proposed_at = Timestamp(allow_none=True)
    failure_code = ma.fields.String(allow_none=True)
    failure_message = ma.fields.String(allow_none=True)
    payload = ma.fields.Dict()
    created_at = Timestamp()


# ---------------------------------------------------------------------- arguments


class RpaDashboardArgs(StrictSchema):
    hours = ma.fields.Integer(
        load_default=24, validate=ma.validate.Range(min=1, max=monitoring.MAX_HOURS)
    )
    stuck_minutes = ma.fields.Integer(
        load_default=monitoring.STUCK_MINUTES, validate=ma.validate.Range(min=1, max=1440)
    )


class RpaRunArgs(PageArgs):
    robot = ma.fields.String(load_default=None, validate=ROBOT_NAME)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(RUN_STATES))


class RpaItemArgs(PageArgs):
    robot = ma.fields.String(load_default=None, validate=ROBOT_NAME)
    state = ma.fields.String(load_default=None, validate=ma.validate.OneOf(ITEM_STATES))
    failure_kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(FAILURE_KINDS))
    run_id = ma.fields.Integer(load_default=None, validate=ID)


class RpaLogArgs(PageArgs):
    item_id = ma.fields.Integer(load_default=None, validate=ID)


class RpaReviewArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["open", "proposed"]))


class RpaAlarmArgs(PageArgs):
    include_cleared = ma.fields.Boolean(load_default=False)


# ---------------------------------------------------------------------- shaping


def _run(run, names) -> dict:
    out = {c: getattr(run, c) for c in RpaRunRowOut._declared_fields if c != "robot"}
    out["robot"] = names.get(run.robot_id, str(run.robot_id))
    return out


def _item(item, names) -> dict:
    out = {c: getattr(item, c) for c in RpaItemRowOut._declared_fields if c != "robot"}
    out["robot"] = names.get(item.robot_id, str(item.robot_id))
    return out


def _page(page, shape, robot_ids) -> dict:
    names = monitoring.robot_names(db(), robot_ids)
    return {"items": [shape(row, names) for row in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------------- views


@blp.route("/dashboard")
class Dashboard(MethodView):
    @blp.arguments(RpaDashboardArgs, location="query")
    @blp.response(200, RpaDashboardOut)
    def get(self, args):
        """The factory's figures for the caller's department over the last ``hours``.

        Runs by status and robot, items finished per hour (DONE and FAILED), success rate per
        robot, failure reasons, hours of manual work saved, stuck runs (quiet for
        ``stuck_minutes`` or with a heartbeat older than the lease), open alarms and reviews
        (docs/rpa-monitor.md)."""
        lease_s = current_app.extensions["finedge"].config.rpa_lease_s
        return monitoring.dashboard(
            db(),
            current_actor(),
            hours=args["hours"],
            stuck_minutes=args["stuck_minutes"],
            lease_s=lease_s,
        )


@blp.route("/runs")
class Runs(MethodView):
    @blp.arguments(RpaRunArgs, location="query")
    @blp.response(200, page_schema(RpaRunRowOut, "RpaRunPage"))
    def get(self, args):
        """Runs, newest first; filters robot (its name) and status."""
        page = monitoring.list_runs(db(), current_actor(), **args)
        return _page(page, _run, {r.robot_id for r in page.items})


@blp.route("/runs/<int:run_id>")
class RunDetail(MethodView):
    @blp.response(200, RpaRunDetailOut)
    def get(self, run_id):
        """One run: its items counted by state, failures by kind, and its artefacts."""
        session = db()
        run = service.get_run(session, current_actor(), run_id)
        counts = monitoring.run_item_counts(session, run.id)
        return {
            "run": _run(run, monitoring.robot_names(session, [run.robot_id])),
            "params": run.params or {},
            "item_counts": counts["items"],
            "failed_by_kind": counts["failed_by_kind"],
            "artefacts": monitoring.artefact_ids(session, run_id=run.id),
        }


@blp.route("/runs/<int:run_id>/logs")
class RunLogs(MethodView):
    @blp.arguments(RpaLogArgs, location="query")
    @blp.response(200, page_schema(RpaLogOut, "RpaLogPage"))
    def get(self, args, run_id):
        """A run's log lines in the order written (or one item's: ``item_id``)."""
        session = db()
        run = service.get_run(session, current_actor(), run_id)
        return monitoring.list_logs(session, run.id, **args)


@blp.route("/items")
class Items(MethodView):
    @blp.arguments(RpaItemArgs, location="query")
    @blp.response(200, page_schema(RpaItemRowOut, "RpaItemPage"))
    def get(self, args):
        """Work items, newest first; filters state, robot, failure_kind and run_id."""
        page = monitoring.list_items(db(), current_actor(), **args)
        return _page(page, _item, {i.robot_id for i in page.items})


@blp.route("/items/<int:item_id>")
class ItemDetail(MethodView):
    @blp.response(200, RpaItemDetailOut)
    def get(self, item_id):
        """One work item: its payload, result or failure, its log lines and artefacts."""
        session = db()
        item = service.get_item(session, current_actor(), item_id)
        logs = monitoring.list_logs(session, item.run_id, item_id=item.id, limit=ITEM_LOG_LINES)
        return {
            "item": _item(item, monitoring.robot_names(session, [item.robot_id])),
            "payload": item.payload or {},
            "result": item.result,
            "failure_message": item.failure_message,
            "failure_details": item.failure_details,
            "heartbeat_at": item.heartbeat_at,
            "reserved_by": item.reserved_by,
            "logs": logs.items,
            "artefacts": monitoring.artefact_ids(session, item_id=item.id),
        }


ARTEFACT_DOC = {
    "responses": {
        "200": {
            "description": "The file's bytes with its content type, as an attachment.",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    }
}
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@blp.route("/artefacts/<int:artefact_id>")
class ArtefactFile(MethodView):
    @blp.doc(**ARTEFACT_DOC)
    def get(self, artefact_id):
        """An artefact's bytes (a report, a screenshot, an uploaded scan), as an attachment
        never rendered in place (``X-Content-Type-Options: nosniff``)."""
        row = service.get_artefact(db(), current_actor(), artefact_id)
        filename = SAFE_NAME.sub("_", row.name).strip("._")[:100] or f"artefact-{row.id}"
        return Response(
            bytes(row.data),
            mimetype=row.content_type,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-Type-Options": "nosniff",
                "X-Artefact-Sha256": row.sha256,
                "Cache-Control": "no-store",
            },
        )


@blp.route("/reviews")
class Reviews(MethodView):
    @blp.arguments(RpaReviewArgs, location="query")
    @blp.response(200, page_schema(RpaReviewQueueOut, "RpaReviewPage"))
    def get(self, args):
        """Reviews waiting for people (open: for a maker; proposed: for a checker), oldest
        first, with the failed item's payload and failure."""
        session = db()
        page = monitoring.list_reviews(session, current_actor(), **args)
        items = monitoring.items_by_id(session, [r.item_id for r in page.items])
        names = monitoring.robot_names(session, {i.robot_id for i in items.values()})
        out = []
        for review in page.items:
            item = items[review.item_id]
            row = {
                c: getattr(review, c)
                for c in RpaReviewQueueOut._declared_fields
                if hasattr(review, c)
            }
            row.update(
                robot=names.get(item.robot_id, str(item.robot_id)),
                failure_code=item.failure_code,
                failure_message=item.failure_message,
                payload=item.payload or {},
            )
            out.append(row)
        return {"items": out, "next_cursor": page.next_cursor}


@blp.route("/alarms")
class Alarms(MethodView):
    @blp.arguments(RpaAlarmArgs, location="query")
    @blp.response(200, page_schema(RpaAlarmOut, "RpaAlarmPage"))
    def get(self, args):
        """Alarms newest first: open ones (``include_cleared`` for all)."""
        return monitoring.list_alarms(db(), current_actor(), **args)
