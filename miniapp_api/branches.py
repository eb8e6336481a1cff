"""Branches: the list any signed-in user may read, clients included, to choose where to go (code,
name, opening hours and whether the branch is open now, time zone, services, and per service the
live queue: waiting, booked, counters open), one branch with its counters for its staff, and
(admin) creating a branch with its hall in one request, and editing both.

The branch (code, name, org, opening hours) is the identity area's; its hall (time zone,
services, counters) the branch area's (backend/branch/configuration.py). Declared by the branch
area, which owns the hall.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from backend.branch import configuration
from backend.branch.access import can_see_branch
from backend.branch.halls import is_open
from backend.branch.queue import queries as queue_queries
from backend.branch.rules import SERVICES
from backend.identity import queries as identity_queries
from backend.identity import service as identity
from backend.identity.models import Branch
from backend.identity.rules import WEEKDAYS
from backend.platform.errors import ValidationFailed
from backend.platform.permissions import ensure_role
from miniapp_api.branch.blueprint import hall, now
from miniapp_api.branch.schemas import CounterOut
from miniapp_api.common import PageArgs, StrictSchema, current_actor, db, page_schema
from miniapp_api.responses import errors
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "branches",
    __name__,
    url_prefix="/api/v1/branches",
    description="Branches: opening hours, time zone, services, counters (admin creates and edits)",
)

TEXTS = {
    403: "The caller is not an admin",
    404: "No such branch, or not visible to the caller (branch_not_found)",
    409: "branch_exists, org_exists, or an Idempotency-Key reused with another body",
}
HOURS_DOC = {
    "description": "Local opening hours by weekday (mon..sun), each a list of [open, close] "
    'HH:MM pairs in the hall\'s time zone, e.g. {"mon": [["09:00", "17:00"]]}; a day left '
    "out is closed; null: not published",
    "example": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "14:00"]]},
}
SERVICE = ma.validate.OneOf(list(SERVICES))


class HallCounterIn(StrictSchema):
    counter_id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,19}$")
    )
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    skills = ma.fields.List(
        ma.fields.String(validate=SERVICE), validate=ma.validate.Length(min=1, max=20)
    )
    device_id = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=64),
        metadata={"description": "The caller device at the window; empty string: none"},
    )


class HallFields(StrictSchema):
    opening_hours = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(WEEKDAYS)),
        values=ma.fields.List(ma.fields.List(ma.fields.String())),
        allow_none=True,
        metadata=HOURS_DOC,
    )
    timezone = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40), metadata={"example": "Asia/Shanghai"}
    )
    services = ma.fields.List(
        ma.fields.String(validate=SERVICE), validate=ma.validate.Length(min=1, max=20)
    )
    counters = ma.fields.List(ma.fields.Nested(HallCounterIn), validate=ma.validate.Length(max=100))


class NewBranch(HallFields):
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "Names the branch's MQTT topics: letters, digits, '_', '-'"},
    )
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    org_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "An existing bank or branch org owning the branch"},
    )
    parent_org_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "Without org_id: the org above the branch's new org [the bank]"},
    )


class BranchChange(HallFields):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))


class ServiceQueueOut(ma.Schema):
    service = ma.fields.String(metadata={"description": "cash|account|loan|wealth|corporate"})
    name = ma.fields.String()
    waiting = ma.fields.Integer(metadata={"description": "Tickets waiting in the hall now"})
    booked = ma.fields.Integer(
        metadata={"description": "Remote tickets taken, their clients not checked in yet"}
    )
    counters_open = ma.fields.Integer(metadata={"description": "Open counters serving it"})


class BranchOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    org_id = ma.fields.Integer()
    opening_hours = ma.fields.Dict(allow_none=True, metadata=HOURS_DOC)
    open_now = ma.fields.Boolean(
        allow_none=True,
        metadata={"description": "Open at the time of the answer by its hours; null: no hours"},
    )
    timezone = ma.fields.String()
    services = ma.fields.List(ma.fields.String())
    queue = ma.fields.List(
        ma.fields.Nested(ServiceQueueOut),
        metadata={"description": "Per offered service, the live queue at the time of the answer"},
    )
    counters = ma.fields.List(
        ma.fields.Nested(CounterOut),
        metadata={"description": "For the branch's staff and admins only"},
    )


def _out(branch: Branch, config: dict, queue: list[dict]) -> dict:
    return {
        "code": branch.code,
        "name": branch.name,
        "org_id": branch.org_id,
        "opening_hours": branch.opening_hours,
        "open_now": is_open(branch.opening_hours, config["timezone"], now()),
        "queue": queue,
        **config,
    }


def _detail(branch: Branch) -> dict:
    config = configuration.hall_configuration(db(), branch.code)
    if not can_see_branch(current_actor(), branch.code):
        config.pop("counters")
    return _out(branch, config, queue_queries.live_counts(db(), [branch.code])[branch.code])


def _configure(branch_code: str, body: dict) -> None:
    hall_fields = {k: body[k] for k in ("timezone", "services", "counters") if k in body}
    if hall_fields:
        configuration.configure_hall(db(), current_actor(), hall(), branch_code, **hall_fields)


@blp.route("")
class Branches(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(BranchOut, "BranchPage"))
    @errors(blp, 400, 401)
    def get(self, args):
        """Discovery for clients: every branch, to any signed-in user (clients included), a
        cursor page ``{items, next_cursor}`` by branch code: code, name, opening hours (local
        times of the branch's time zone) and whether it is open now, the services offered and,
        per service, the live queue: tickets waiting in the hall, remote tickets booked but not
        checked in, counters open. Counters only for the branch's staff (GET /branches/{code});
        a branch's estimated waits: GET /branches/{code}/queue."""
        page = identity_queries.list_branches(db(), limit=args["limit"], cursor=args["cursor"])
        codes = [b.code for b in page.items]
        halls = configuration.halls_summary(db(), codes)
        live = queue_queries.live_counts(db(), codes)
        return {
            "items": [_out(b, halls[b.code], live[b.code]) for b in page.items],
            "next_cursor": page.next_cursor,
        }

    @blp.arguments(NewBranch)
    @blp.response(201, BranchOut)
    @errors(blp, 400, 401, 403, 409, texts=TEXTS)
    def post(self, body):
        """Create a branch (admin) with its own org of kind branch under the bank (or owned by
        ``org_id``), its opening hours, and its hall: time zone, services and counters."""
        actor = current_actor()
        ensure_role(actor, "admin")
        branch = identity.create_branch(
            db(),
            actor,
            code=body["code"],
            name=body["name"],
            org_id=body["org_id"],
            parent_org_id=body["parent_org_id"],
            opening_hours=body.get("opening_hours"),
        )
        _configure(branch.code, body)
        return _detail(branch)


@blp.route("/<string:code>")
class BranchOne(MethodView):
    @blp.response(200, BranchOut)
    @errors(blp, 401, 404, texts=TEXTS)
    def get(self, code):
        """One branch; its counters only for its staff and admins."""
        return _detail(identity.get_branch(db(), code))

    @blp.arguments(BranchChange)
    @blp.response(200, BranchOut)
    @errors(blp, 400, 401, 403, 404, 409, texts=TEXTS)
    def patch(self, body, code):
        """Change a branch (admin): name, opening hours (null: not published), time zone,
        services offered (the others become inactive), counters (created or changed)."""
        actor = current_actor()
        ensure_role(actor, "admin")
        if not body:
            raise ValidationFailed("nothing to change", details={"name": ["a field to change"]})
        changes = {k: body[k] for k in ("name", "opening_hours") if k in body}
        branch = identity.update_branch(db(), actor, code, **changes)
        _configure(branch.code, body)
        return _detail(branch)
