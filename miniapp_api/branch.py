"""Branch hall (CONTRACT §2): soft queuing, counters, customer flow, face consent, the
smart-counter fleet and cash-loading tasks.

Branch objects are visible to the branch's staff (and head office, admins); another branch's
teller gets 404, and so does a client for anybody else's ticket or consent. Services:
backend/branch (see docs/branch.md). Live pushes: ``queue.update``, ``cash_task.update``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.branch import counters, fleet, queue, rules, stats
from backend.branch.cash import service as cash
from backend.branch.cash import veins
from backend.branch.cash.rules import STATUSES as CASH_STATUSES
from backend.branch.chart import flow_chart_png, flow_page_html
from backend.branch.face import service as face
from backend.branch.runtime import Hall
from backend.platform.db import run_in_transaction
from backend.platform.errors import ValidationFailed
from miniapp_api.common import PageArgs, StrictSchema, current_actor, db

log = logging.getLogger(__name__)

blp = Blueprint(
    "branch",
    __name__,
    url_prefix="/api/v1",
    description="Branch hall: queue, counters, flow, face consent, fleet, cash loading",
)


# --------------------------------------------------------------------------- wiring


def hall() -> Hall:
    """The process's Hall (its pushes, device commands, key and clock), from the wiring."""
    return current_app.extensions["finedge"].wiring.get(Hall)


def now():
    return hall().now()


# --------------------------------------------------------------------------- schemas


ServiceCode = ma.fields.String(required=True, validate=ma.validate.OneOf(list(rules.SERVICES)))


class TicketIn(StrictSchema):
    service = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(list(rules.SERVICES)),
        metadata={"description": "cash|account|loan|wealth|corporate"},
    )
    appointment_at = ma.fields.AwareDateTime(
        default_timezone=UTC,
        load_default=None,
        metadata={"description": "a booked appointment; honoured when checking in near it"},
    )
    category = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(list(rules.CATEGORIES)),
        metadata={"description": "staff only: normal|appointment|elderly|vip"},
    )
    client_id = ma.fields.Integer(load_default=None, metadata={"description": "staff only"})
    request_id = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(1, 64),
        metadata={"description": "the caller's id of this request: a repeat returns the ticket"},
    )


class TicketOut(ma.Schema):
    id = ma.fields.Integer()
    branch_id = ma.fields.String()
    ticket_no = ma.fields.String()
    service = ma.fields.String()
    status = ma.fields.String(
        metadata={
            "enum": ["remote", "waiting", "called", "done", "no_show", "cancelled", "expired"]
        }
    )
    channel = ma.fields.String()
    category = ma.fields.String()
    position = ma.fields.Integer(allow_none=True)
    estimated_wait_s = ma.fields.Integer(allow_none=True)
    counter_id = ma.fields.String(allow_none=True)
    return_service = ma.fields.String(allow_none=True)
    recalls = ma.fields.Integer()
    transfers = ma.fields.Integer()
    issued_at = ma.fields.String()
    arrived_at = ma.fields.String(allow_none=True)
    appointment_at = ma.fields.String(allow_none=True)
    called_at = ma.fields.String(allow_none=True)
    finished_at = ma.fields.String(allow_none=True)


class CounterOut(ma.Schema):
    counter_id = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(counters.COUNTER_STATUSES)})
    skills = ma.fields.List(ma.fields.String())
    borrowed_skills = ma.fields.List(ma.fields.String())
    device_id = ma.fields.String(allow_none=True)
    serving = ma.fields.String(allow_none=True)


class ServiceSummaryOut(ma.Schema):
    service = ma.fields.String()
    name = ma.fields.String()
    waiting = ma.fields.Integer()
    booked = ma.fields.Integer()
    counters_open = ma.fields.Integer()
    mean_service_s = ma.fields.Integer()
    estimated_wait_s = ma.fields.Integer()


class QueueOut(ma.Schema):
    branch_id = ma.fields.String()
    version = ma.fields.Integer()
    at = ma.fields.String()
    services = ma.fields.List(ma.fields.Nested(ServiceSummaryOut))
    counters = ma.fields.List(ma.fields.Nested(CounterOut), metadata={"description": "staff"})
    tickets = ma.fields.List(
        ma.fields.Nested(TicketOut), metadata={"description": "staff: waiting, in call order"}
    )
    serving = ma.fields.List(ma.fields.Nested(TicketOut), metadata={"description": "staff"})
    mine = ma.fields.List(
        ma.fields.Nested(TicketOut), metadata={"description": "client: own open tickets"}
    )


class CallOut(ma.Schema):
    counter = ma.fields.Nested(CounterOut)
    called = ma.fields.Nested(TicketOut, allow_none=True)
    finished = ma.fields.Nested(TicketOut, allow_none=True)
    skipped = ma.fields.Nested(TicketOut, allow_none=True)
    transferred = ma.fields.Nested(TicketOut, allow_none=True)


class TransferIn(StrictSchema):
    service = ServiceCode
    return_after = ma.fields.Boolean(
        load_default=False, metadata={"description": "come back to this service afterwards"}
    )


class CounterIn(StrictSchema):
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 80))
    skills = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(list(rules.SERVICES))), load_default=None
    )
    device_id = ma.fields.String(load_default=None, validate=ma.validate.Length(0, 64))


class CounterStatusIn(StrictSchema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["open", "closed"]))


class ServicesIn(StrictSchema):
    services = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(list(rules.SERVICES))), required=True
    )


class DayArgs(StrictSchema):
    day = ma.fields.String(load_default=None, metadata={"description": "YYYY-MM-DD (local)"})


class RangeArgs(StrictSchema):
    from_ = ma.fields.String(data_key="from", load_default=None)
    to = ma.fields.String(load_default=None)


class SettingsIn(StrictSchema):
    face_tolerance = ma.fields.Float(
        required=True,
        metadata={"description": "1:N match tolerance, 0.3..0.8 (default 0.6; lower is stricter)"},
    )


class ConsentIn(StrictSchema):
    text_version = ma.fields.String(load_default=face.CONSENT_TEXT_VERSION)


class ConsentOut(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["none", "granted", "withdrawn"]})
    text_version = ma.fields.String(allow_none=True)
    granted_at = ma.fields.String(allow_none=True)
    withdrawn_at = ma.fields.String(allow_none=True)
    encodings = ma.fields.Integer()
    encoding_id = ma.fields.Integer()
    quality = ma.fields.Float()


class EnrolIn(StrictSchema):
    image = ma.fields.String(
        load_default=None, metadata={"description": "base64 JPEG or PNG of the client's face"}
    )
    encoding = ma.fields.List(
        ma.fields.Float(allow_nan=False),
        load_default=None,
        metadata={"description": "or a 128-d encoding computed on the phone"},
    )


class TemplateIn(StrictSchema):
    model = ma.fields.String(required=True, validate=ma.validate.Length(1, 80))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 80))
    params = ma.fields.Dict(required=True)


class RolloutIn(StrictSchema):
    template_id = ma.fields.Integer(required=True)
    percentage = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 100))
    branch_id = ma.fields.String(load_default=None)


class AdvanceIn(StrictSchema):
    percentage = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 100))


class ResumeIn(StrictSchema):
    exclude_rejecting = ma.fields.Boolean(load_default=False)


class CashTaskIn(StrictSchema):
    device_id = ma.fields.String(required=True)
    loaders = ma.fields.List(ma.fields.Integer(), required=True)
    window_start = ma.fields.AwareDateTime(required=True, default_timezone=UTC)
    window_end = ma.fields.AwareDateTime(required=True, default_timezone=UTC)
    amounts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        required=True,
        metadata={"description": 'per denomination, decimal strings: {"100.00": "200000.00"}'},
    )
    lock_id = ma.fields.String(load_default=None)


class CashTaskOut(ma.Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    branch_id = ma.fields.String()
    device_id = ma.fields.String()
    lock_id = ma.fields.String()
    loaders = ma.fields.List(ma.fields.Integer())
    loader_names = ma.fields.List(ma.fields.String())
    amounts = ma.fields.Dict()
    total = ma.fields.String()
    window_start = ma.fields.String()
    window_end = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(CASH_STATUSES)})
    phase = ma.fields.String()
    maker_id = ma.fields.Integer(allow_none=True)
    checker_id = ma.fields.Integer(allow_none=True)
    approved_at = ma.fields.String(allow_none=True)
    verified = ma.fields.List(ma.fields.String())
    armed_at = ma.fields.String(allow_none=True)
    unlock_expires_at = ma.fields.String(allow_none=True)
    unlock_code = ma.fields.String(
        metadata={"description": "only for the task's loaders, while the unlock is valid"}
    )
    unlocked_at = ma.fields.String(allow_none=True)
    counts = ma.fields.Dict()
    loaded = ma.fields.Dict()
    review = ma.fields.String(allow_none=True)
    review_note = ma.fields.String(allow_none=True)
    loaded_at = ma.fields.String(allow_none=True)
    door_closed_at = ma.fields.String(allow_none=True)
    closed_at = ma.fields.String(allow_none=True)
    cancelled_at = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()


class CashTaskPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CashTaskOut))
    next_cursor = ma.fields.String(allow_none=True)


class CashListArgs(PageArgs):
    branch_id = ma.fields.String(load_default=None)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(list(CASH_STATUSES)))


class CancelIn(StrictSchema):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))


class ReviewIn(StrictSchema):
    note = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))


class VeinConsentIn(StrictSchema):
    text_version = ma.fields.String(load_default=veins.CONSENT_TEXT_VERSION)


class VeinConsentOut(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["none", "granted", "withdrawn"]})
    text_version = ma.fields.String(allow_none=True)
    granted_at = ma.fields.String(allow_none=True)
    withdrawn_at = ma.fields.String(allow_none=True)
    enrolments = ma.fields.Integer(metadata={"description": "locks capturing or holding my vein"})


class EnrolmentIn(StrictSchema):
    loader_id = ma.fields.Integer(
        required=True, metadata={"description": "user id of a consenting loader of the branch"}
    )


class EnrolmentOut(ma.Schema):
    lock_id = ma.fields.String()
    branch_id = ma.fields.String()
    loader_id = ma.fields.Integer(allow_none=True)
    username = ma.fields.String(metadata={"description": "the loader's id on the lock"})
    status = ma.fields.String(metadata={"enum": list(veins.STATUSES)})
    captures = ma.fields.Integer()
    captures_needed = ma.fields.Integer()
    requested_at = ma.fields.String()
    enrolled_at = ma.fields.String(allow_none=True)
    failure_reason = ma.fields.String(allow_none=True)
    revoke_requested_at = ma.fields.String(allow_none=True)


class EnrolmentPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EnrolmentOut))
    next_cursor = ma.fields.String(allow_none=True)


# --------------------------------------------------------------------------- queue


@blp.route("/branches/<string:branch_id>/tickets")
class Tickets(MethodView):
    @blp.arguments(TicketIn)
    @blp.response(201, TicketOut)
    def post(self, data, branch_id):
        """Take a ticket: a client remotely (held until check-in), staff for a client here"""
        return queue.issue_ticket(
            db(),
            current_actor(),
            hall(),
            branch_id,
            data["service"],
            appointment_at=data["appointment_at"],
            category=data["category"],
            client_id=data["client_id"],
            request_id=data["request_id"],
            now=now(),
        )


@blp.route("/branches/<string:branch_id>/tickets/<string:ticket_no>")
class TicketOne(MethodView):
    @blp.response(200, TicketOut)
    def get(self, branch_id, ticket_no):
        """Today's ticket: position and estimated wait"""
        return queue.get_ticket(db(), current_actor(), branch_id, ticket_no, now())


@blp.route("/branches/<string:branch_id>/tickets/<string:ticket_no>/check-in")
class TicketCheckIn(MethodView):
    @blp.response(200, TicketOut)
    def post(self, branch_id, ticket_no):
        """The remote ticket's client arrived: the ticket can now be called"""
        return queue.check_in(db(), current_actor(), hall(), branch_id, ticket_no, now())


@blp.route("/branches/<string:branch_id>/tickets/<string:ticket_no>/cancel")
class TicketCancel(MethodView):
    @blp.response(200, TicketOut)
    def post(self, branch_id, ticket_no):
        """Give the ticket up"""
        return queue.cancel_ticket(db(), current_actor(), hall(), branch_id, ticket_no, now())


@blp.route("/branches/<string:branch_id>/queue")
class Queue(MethodView):
    @blp.response(200, QueueOut)
    def get(self, branch_id):
        """The queue: staff see every ticket and counter; a client the summary and their own"""
        return queue.queue_view(db(), current_actor(), branch_id, now())


@blp.route("/branches/<string:branch_id>/services")
class Services(MethodView):
    @blp.arguments(ServicesIn)
    @blp.response(
        200,
        ma.Schema.from_dict(
            {"services": ma.fields.List(ma.fields.String())}, name="BranchServices"
        ),
    )
    def put(self, data, branch_id):
        """Which services the branch offers (admin)"""
        rows = counters.configure_services(
            db(), current_actor(), branch_id, data["services"], now()
        )
        return {"services": sorted(s.code for s in rows if s.active)}


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>")
class CounterOne(MethodView):
    @blp.arguments(CounterIn)
    @blp.response(200, CounterOut)
    def put(self, data, branch_id, counter_id):
        """Create or change a counter: name, skills, caller device (admin)"""
        return counters.upsert_counter(
            db(),
            current_actor(),
            hall(),
            branch_id,
            counter_id,
            name=data["name"],
            skills=data["skills"],
            device_id=data["device_id"],
            now=now(),
        )


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/status")
class CounterStatus(MethodView):
    @blp.arguments(CounterStatusIn)
    @blp.response(200, CounterOut)
    def post(self, data, branch_id, counter_id):
        """Open or close the counter"""
        return counters.set_counter_status(
            db(), current_actor(), hall(), branch_id, counter_id, data["status"], now()
        )


def _counter_action(action):
    @blp.response(200, CallOut)
    def post(self, branch_id, counter_id):
        return action(db(), current_actor(), hall(), branch_id, counter_id, now())

    post.__doc__ = action.__doc__.splitlines()[0] if action.__doc__ else None
    return post


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/call-next")
class CallNext(MethodView):
    post = _counter_action(counters.call_next)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/recall")
class Recall(MethodView):
    post = _counter_action(counters.recall)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/no-show")
class NoShow(MethodView):
    post = _counter_action(counters.no_show)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/finish")
class Finish(MethodView):
    post = _counter_action(counters.finish)


@blp.route("/branches/<string:branch_id>/counters/<string:counter_id>/transfer")
class Transfer(MethodView):
    @blp.arguments(TransferIn)
    @blp.response(200, CallOut)
    def post(self, data, branch_id, counter_id):
        """Send the current client to another service (raised priority; optional return)"""
        return counters.transfer(
            db(),
            current_actor(),
            hall(),
            branch_id,
            counter_id,
            data["service"],
            return_after=data["return_after"],
            now=now(),
        )


# --------------------------------------------------------------------------- flow statistics


def _flow(branch_id: str, day: str | None) -> dict:
    return stats.flow_stats(db(), current_actor(), branch_id, day, now())


def _raw_schema(name: str, *keys: str) -> type[ma.Schema]:
    return ma.Schema.from_dict({k: ma.fields.Raw() for k in keys}, name=name)


FlowOut = _raw_schema(
    "FlowStats",
    "branch_id",
    "day",
    "timezone",
    "tickets",
    "arrivals",
    "arrivals_per_hour",
    "served",
    "wait_s",
    "service_s",
    "per_service",
    "abandonment",
    "counters",
    "smart_counters",
)
TemplateOut = _raw_schema("FleetTemplate", "id", "model", "name", "version", "params", "created_at")
RolloutOut = _raw_schema(
    "FleetRollout",
    "id",
    "template",
    "branch_id",
    "percentage",
    "status",
    "health",
    "devices",
    "created_at",
)
FleetOut = _raw_schema("FleetOverview", "branch_id", "models")
OffCounterOut = _raw_schema(
    "OffCounter",
    "branch_id",
    "from",
    "to",
    "smart_transactions",
    "teller_served",
    "off_counter_rate",
    "days",
)


@blp.route("/branches/<string:branch_id>/flow")
class Flow(MethodView):
    @blp.arguments(DayArgs, location="query")
    @blp.response(200, FlowOut)
    def get(self, args, branch_id):
        """Customer flow of a day: arrivals per hour, waits, service times, abandonment,
        counter utilisation, off-counter rate"""
        return _flow(branch_id, args["day"])


@blp.route("/branches/<string:branch_id>/flow/chart.png")
class FlowChart(MethodView):
    @blp.arguments(DayArgs, location="query")
    @blp.doc(responses={"200": {"description": "PNG", "content": {"image/png": {}}}})
    def get(self, args, branch_id):
        """The day's flow as a PNG chart"""
        return Response(flow_chart_png(_flow(branch_id, args["day"])), mimetype="image/png")


@blp.route("/branches/<string:branch_id>/flow/page")
class FlowPage(MethodView):
    @blp.arguments(DayArgs, location="query")
    @blp.doc(responses={"200": {"description": "HTML", "content": {"text/html": {}}}})
    def get(self, args, branch_id):
        """The day's flow as an HTML page with the chart"""
        return Response(flow_page_html(_flow(branch_id, args["day"])), mimetype="text/html")


# --------------------------------------------------------------------------- face


@blp.route("/branches/<string:branch_id>/settings")
class Settings(MethodView):
    @blp.arguments(SettingsIn)
    @blp.response(
        200,
        ma.Schema.from_dict(
            {"branch_id": ma.fields.String(), "face_tolerance": ma.fields.Float()},
            name="BranchSettings",
        ),
    )
    def patch(self, data, branch_id):
        """Hall settings of the branch (admin): the face match tolerance"""
        return face.set_face_tolerance(
            db(), current_actor(), branch_id, data["face_tolerance"], now()
        )


@blp.route("/face/consent")
class Consent(MethodView):
    @blp.response(200, ConsentOut)
    def get(self):
        """My face-recognition consent (client)"""
        return face.get_consent(db(), current_actor())

    @blp.arguments(ConsentIn)
    @blp.response(200, ConsentOut)
    def post(self, data):
        """Record my consent to face recognition at the branch door (client)"""
        return face.grant_consent(
            db(), current_actor(), text_version=data["text_version"], now=now()
        )


@blp.route("/face/consent/withdraw")
class ConsentWithdraw(MethodView):
    @blp.response(200, ConsentOut)
    def post(self):
        """Withdraw consent: every encoding of my face is deleted at once (client)"""
        return face.withdraw_consent(db(), current_actor(), now=now())


@blp.route("/face/enrol")
class Enrol(MethodView):
    @blp.arguments(EnrolIn)
    @blp.response(201, ConsentOut)
    def post(self, data):
        """Enrol my face (after consent): a photo, or an encoding from the phone (client)"""
        image = None
        if data["image"] is not None:
            try:
                image = base64.b64decode(data["image"], validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed(
                    "image must be base64", code="invalid_image", details={"image": ["base64"]}
                ) from None
        return face.enrol(
            db(), current_actor(), hall(), image=image, encoding=data["encoding"], now=now()
        )


# --------------------------------------------------------------------------- fleet


@blp.route("/fleet/templates")
class Templates(MethodView):
    @blp.response(
        200,
        ma.Schema.from_dict(
            {"items": ma.fields.List(ma.fields.Nested(TemplateOut))}, name="FleetTemplates"
        ),
    )
    def get(self):
        """Parameter templates per device model (admin)"""
        return {"items": fleet.list_templates(db(), current_actor())}

    @blp.arguments(TemplateIn)
    @blp.response(201, TemplateOut)
    def post(self, data):
        """A new template version for a model (admin)"""
        return fleet.create_template(
            db(),
            current_actor(),
            model=data["model"],
            name=data["name"],
            params=data["params"],
            now=now(),
        )


@blp.route("/fleet/rollouts")
class Rollouts(MethodView):
    @blp.arguments(RolloutIn)
    @blp.response(201, RolloutOut)
    def post(self, data):
        """Apply a template to a percentage of the model's devices (admin)"""
        return fleet.start_rollout(
            db(),
            current_actor(),
            template_id=data["template_id"],
            percentage=data["percentage"],
            branch_id=data["branch_id"],
            now=now(),
        )


@blp.route("/fleet/rollouts/<int:rollout_id>")
class RolloutOne(MethodView):
    @blp.response(200, RolloutOut)
    def get(self, rollout_id):
        """The rollout and its health per device (admin); halts it if devices reject it"""
        return fleet.get_rollout(db(), current_actor(), hall(), rollout_id, now())


@blp.route("/fleet/rollouts/<int:rollout_id>/advance")
class RolloutAdvance(MethodView):
    @blp.arguments(AdvanceIn)
    @blp.response(200, RolloutOut)
    def post(self, data, rollout_id):
        """Grow the rollout to a larger percentage (admin); 422 rollout_halted when halted"""
        the_hall, at = hall(), now()
        try:
            return fleet.advance_rollout(
                db(), current_actor(), rollout_id, data["percentage"], at, the_hall
            )
        except fleet.RolloutHalted:
            # The 422 rolls the request back; a halt found just now must stay (as auth keeps a
            # login failure). End the request's transaction first: on SQLite it holds the lock.
            db().rollback()
            run_in_transaction(
                current_app.extensions["finedge"].session_factory,
                lambda s: fleet.halt_if_rejecting(s, the_hall, rollout_id, at, source="advance"),
            )
            raise


@blp.route("/fleet/rollouts/<int:rollout_id>/rollback")
class RolloutRollback(MethodView):
    @blp.response(200, RolloutOut)
    def post(self, rollout_id):
        """Give every device of the rollout its previous values back (admin)"""
        return fleet.rollback_rollout(db(), current_actor(), rollout_id, now(), hall())


@blp.route("/fleet/rollouts/<int:rollout_id>/resume")
class RolloutResume(MethodView):
    @blp.arguments(ResumeIn)
    @blp.response(200, RolloutOut)
    def post(self, data, rollout_id):
        """Continue a halted rollout (admin): 422 rollout_still_rejected while devices reject
        the template, unless exclude_rejecting rolls those devices back"""
        return fleet.resume_rollout(
            db(),
            current_actor(),
            hall(),
            rollout_id,
            now(),
            exclude_rejecting=data["exclude_rejecting"],
        )


@blp.route("/branches/<string:branch_id>/fleet")
class FleetOverview(MethodView):
    @blp.response(200, FleetOut)
    def get(self, branch_id):
        """The branch's smart counters by model and lifecycle status"""
        return fleet.fleet_overview(db(), current_actor(), branch_id)


@blp.route("/branches/<string:branch_id>/off-counter")
class OffCounter(MethodView):
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200, OffCounterOut)
    def get(self, args, branch_id):
        """Off-counter rate per day: smart-counter transactions / all served"""
        return fleet.off_counter(db(), current_actor(), branch_id, args["from_"], args["to"], now())


# --------------------------------------------------------------------------- cash tasks


@blp.route("/cash-tasks")
class CashTasks(MethodView):
    @blp.arguments(CashListArgs, location="query")
    @blp.response(200, CashTaskPage)
    def get(self, args):
        """Cash tasks of the branches the caller may see"""
        session = db()
        page = cash.list_tasks(
            session,
            current_actor(),
            branch_id=args["branch_id"],
            status=args["status"],
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {
            "items": [cash.task_view(session, t) for t in page.items],
            "next_cursor": page.next_cursor,
        }

    @blp.arguments(CashTaskIn)
    @blp.response(201, CashTaskOut)
    def post(self, data):
        """Make a cash-loading task (teller): device, two loaders, window, amounts"""
        return cash.create_task(
            db(),
            current_actor(),
            hall(),
            device_id=data["device_id"],
            loaders=data["loaders"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            amounts=data["amounts"],
            lock_id=data["lock_id"],
            now=now(),
        )


@blp.route("/cash-tasks/<int:task_id>")
class CashTaskOne(MethodView):
    @blp.response(200, CashTaskOut)
    def get(self, task_id):
        """The task (its loaders also see the one-time code while the unlock is valid)"""
        return cash.get_task(db(), current_actor(), hall(), task_id, now())


@blp.route("/cash-tasks/<int:task_id>/approve")
class CashTaskApprove(MethodView):
    @blp.response(200, CashTaskOut)
    def post(self, task_id):
        """Approve (checker: not the maker, not a loader)"""
        return cash.approve_task(db(), current_actor(), hall(), task_id, now())


@blp.route("/cash-tasks/<int:task_id>/cancel")
class CashTaskCancel(MethodView):
    @blp.arguments(CancelIn)
    @blp.response(200, CashTaskOut)
    def post(self, data, task_id):
        """Cancel before the lock opened"""
        return cash.cancel_task(
            db(), current_actor(), hall(), task_id, reason=data["reason"], now=now()
        )


@blp.route("/cash-tasks/<int:task_id>/review")
class CashTaskReview(MethodView):
    @blp.arguments(ReviewIn)
    @blp.response(200, CashTaskOut)
    def post(self, data, task_id):
        """Accept the counted notes of a mismatched task (checker, with a note)"""
        return cash.review_task(
            db(), current_actor(), hall(), task_id, note=data["note"], now=now()
        )


# --------------------------------------------------------------------------- vein enrolment


@blp.route("/vein/consent")
class VeinConsent(MethodView):
    @blp.response(200, VeinConsentOut)
    def get(self):
        """My finger-vein consent (loader)"""
        return veins.get_consent(db(), current_actor())

    @blp.arguments(VeinConsentIn)
    @blp.response(200, VeinConsentOut)
    def post(self, data):
        """Record my consent to finger-vein enrolment on the branch's locks (loader)"""
        return veins.grant_consent(
            db(), current_actor(), text_version=data["text_version"], now=now()
        )


@blp.route("/vein/consent/withdraw")
class VeinConsentWithdraw(MethodView):
    @blp.response(200, VeinConsentOut)
    def post(self):
        """Withdraw consent: every lock is told to delete my vein template (loader)"""
        return veins.withdraw_consent(db(), current_actor(), hall(), now=now())


@blp.route("/locks/<string:lock_id>/enrolments")
class LockEnrolments(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, EnrolmentPage)
    def get(self, args, lock_id):
        """Loaders enrolled on the lock (branch staff; a loader sees only their own)"""
        page = veins.list_enrolments(
            db(), current_actor(), lock_id, limit=args["limit"], cursor=args["cursor"]
        )
        return {
            "items": [veins.enrolment_view(row) for row in page.items],
            "next_cursor": page.next_cursor,
        }

    @blp.arguments(EnrolmentIn)
    @blp.response(202, EnrolmentOut)
    def post(self, data, lock_id):
        """Enrol a consenting loader (teller): the lock captures the vein, which never leaves it"""
        return veins.request_enrolment(db(), current_actor(), hall(), lock_id, data["loader_id"])


@blp.route("/locks/<string:lock_id>/enrolments/<int:loader_id>")
class LockEnrolmentOne(MethodView):
    @blp.response(202, EnrolmentOut)
    def delete(self, lock_id, loader_id):
        """Remove a loader from the lock (teller): revoking until the lock confirms"""
        return veins.revoke_enrolment(db(), current_actor(), hall(), lock_id, loader_id)
