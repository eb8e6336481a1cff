"""Administration: audit log query and job runs. Admin role only. (Users: miniapp_api/users.py,
under /api/v1/admin/users; orgs: miniapp_api/orgs.py; branches: miniapp_api/branches.py.)"""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from backend.platform import audit, jobs
from backend.platform.permissions import ensure_role
from miniapp_api.common import PageArgs, Timestamp, current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="Administration (admin only)"
)


class AuditArgs(PageArgs):
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    action = ma.fields.String()
    actor_user_id = ma.fields.Integer()
    since = ma.fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "records at or after this instant"}
    )
    until = ma.fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "records before this instant"}
    )


class AuditOut(ma.Schema):
    id = ma.fields.Integer()
    at = Timestamp()
    actor_user_id = ma.fields.Integer(allow_none=True)
    actor_username = ma.fields.String()
    actor_role = ma.fields.String()
    action = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    request_id = ma.fields.String(allow_none=True)


class JobRunOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    trigger = ma.fields.String()
    started_at = Timestamp()
    finished_at = Timestamp(allow_none=True)
    outcome = ma.fields.String()
    result = ma.fields.Dict(allow_none=True)
    error = ma.fields.String(allow_none=True)


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.arguments(AuditArgs, location="query")
    @blp.response(200, page_schema(AuditOut, "AuditPage"))
    def get(self, args):
        """Query the append-only audit log, newest first."""
        ensure_role(current_actor(), "admin")
        return audit.query_audit(db(), **args)


class JobRunArgs(PageArgs):
    name = ma.fields.String(metadata={"description": "only this job's runs"})


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.arguments(JobRunArgs, location="query")
    @blp.response(200, page_schema(JobRunOut, "JobRunPage"))
    def get(self, args):
        """Job runs, newest first (start, end, outcome, error), a cursor page."""
        ensure_role(current_actor(), "admin")
        return jobs.page_runs(db(), **args)


class JobScheduleOut(ma.Schema):
    name = ma.fields.String()
    description = ma.fields.String()
    every_s = ma.fields.Integer(
        allow_none=True, metadata={"description": "runs every this many seconds"}
    )
    cron = ma.fields.Dict(
        allow_none=True, metadata={"description": "cron fields (hour, minute, ...), local time"}
    )
    last_run = ma.fields.Nested(JobRunOut, allow_none=True)


@blp.route("/jobs/schedule")
class JobSchedule(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(JobScheduleOut, "JobSchedulePage"))
    def get(self, args):
        """Every registered job by name with its schedule (interval ``every_s`` or ``cron``
        fields; neither: run by hand only) and its latest run, a cursor page. Runs themselves:
        GET /admin/jobs?name=."""
        ensure_role(current_actor(), "admin")
        return jobs.page_schedule(db(), current_app.extensions["finedge"].runtime.jobs, **args)


@blp.route("/jobs/<string:name>/run")
class RunJob(MethodView):
    @blp.response(200, JobRunOut)
    def post(self, name):
        """Run a registered job now; the run is recorded like a scheduled one."""
        ensure_role(current_actor(), "admin")
        return current_app.extensions["finedge"].runtime.run_job(name)
