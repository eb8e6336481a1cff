"""The branch hall's request and response schemas (marshmallow), for every view module of this
package: queue and tickets, counters, flow statistics, face consent, the fleet, cash tasks and
vein enrolment.
"""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma

from backend.branch import rules
from backend.branch.cash.rules import STATUSES as CASH_STATUSES
from backend.branch.face import queries as face
from backend.branch.queue.service import COUNTER_STATUSES
from backend.branch.veins import queries as veins
from miniapp_api.common import PageArgs, StrictSchema, Timestamp, page_schema

# --------------------------------------------------------------------------- queue and counters

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


class CheckInIn(StrictSchema):
    presence_code = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=64),
        metadata={
            "description": "Required from a client: the code of the QR code on the branch's hall "
            "display (finedge://check-in?branch=<b>&code=<code>); it changes every 30 s and is "
            "accepted up to 60 s, at this branch only. Staff of the branch checking a client in "
            "beside them leave it out.",
            "example": "MFRGGZDFMZTWQ2LK",
        },
    )


class PresenceCodeOut(ma.Schema):
    branch_id = ma.fields.String()
    code = ma.fields.String(metadata={"description": "The current check-in code"})
    qr = ma.fields.String(metadata={"description": "What the QR code on the display holds"})
    valid_from = ma.fields.String(metadata={"format": "date-time"})
    shown_until = ma.fields.String(
        metadata={"format": "date-time", "description": "When the display shows the next code"}
    )
    valid_until = ma.fields.String(
        metadata={"format": "date-time", "description": "When this code stops being accepted"}
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
    order_key = ma.fields.String(
        metadata={
            "description": "the call order: waiting and booked tickets are called in ascending "
            "order_key (compare as strings); it changes only when the ticket's priority does"
        }
    )
    position = ma.fields.Integer(allow_none=True)
    estimated_wait_s = ma.fields.Integer(allow_none=True)
    counter_id = ma.fields.String(allow_none=True)
    return_service = ma.fields.String(allow_none=True)
    recalls = ma.fields.Integer()
    transfers = ma.fields.Integer()
    issued_at = Timestamp()
    arrived_at = Timestamp(allow_none=True)
    appointment_at = Timestamp(allow_none=True)
    called_at = Timestamp(allow_none=True)
    finished_at = Timestamp(allow_none=True)


TicketPage = page_schema(TicketOut, "TicketPage")


class CounterOut(ma.Schema):
    counter_id = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(COUNTER_STATUSES)})
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
    at = Timestamp()
    services = ma.fields.List(ma.fields.Nested(ServiceSummaryOut))
    counters = ma.fields.List(ma.fields.Nested(CounterOut), metadata={"description": "staff"})
    tickets = ma.fields.List(
        ma.fields.Nested(TicketOut), metadata={"description": "staff: waiting, in call order"}
    )
    serving = ma.fields.List(ma.fields.Nested(TicketOut), metadata={"description": "staff"})
    mine = ma.fields.List(
        ma.fields.Nested(TicketOut), metadata={"description": "client: own open tickets"}
    )


class StandingOut(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    estimated_wait_s = ma.fields.Integer()


class QueueUpdateOut(QueueOut):
    """The ``queue.update`` push. To the branch room and admins: ``kind`` ``delta``, what
    changed since the picture of ``base_version`` (``version - 1``): all ``services``, the
    ``counters`` that changed, the ``tickets`` (waiting, booked) and ``serving`` (called) that
    changed or are new, the ``standings`` of tickets that only moved, the ids ``removed`` from
    the picture; or ``kind`` ``full``: the whole picture, as GET .../queue gives it. A holder of
    another version than ``base_version`` reloads with GET .../queue (docs/branch.md). To a
    client: ``branch_id``, ``version`` and ``ticket``, their own ticket whenever it changes,
    moves or leaves the queue."""

    kind = ma.fields.String(
        metadata={"enum": ["delta", "full"], "description": "branch room: delta or full picture"}
    )
    base_version = ma.fields.Integer(
        metadata={"description": "delta: the version it applies to (version - 1)"}
    )
    standings = ma.fields.List(
        ma.fields.Nested(StandingOut),
        metadata={"description": "delta: tickets whose position or estimated wait alone changed"},
    )
    removed = ma.fields.List(
        ma.fields.Integer(),
        metadata={"description": "delta: ids of tickets that left the picture"},
    )
    ticket = ma.fields.Nested(TicketOut, metadata={"description": "client: their own ticket"})


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


ServicesOut = ma.Schema.from_dict(
    {"services": ma.fields.List(ma.fields.String())}, name="BranchServices"
)


# --------------------------------------------------------------------------- flow statistics


class DayArgs(StrictSchema):
    day = ma.fields.String(load_default=None, metadata={"description": "YYYY-MM-DD (local)"})


class RangeArgs(StrictSchema):
    from_ = ma.fields.String(data_key="from", load_default=None)
    to = ma.fields.String(load_default=None)


def _object(description: str, **kwargs) -> ma.fields.Dict:
    """A nested object of computed figures (its keys in the description)."""
    return ma.fields.Dict(keys=ma.fields.String(), metadata={"description": description}, **kwargs)


DISTRIBUTION = "seconds: {n, mean, p50, p90, p95, max} (null where nothing was measured)"

FlowOut = ma.Schema.from_dict(
    {
        "branch_id": ma.fields.String(),
        "day": ma.fields.String(metadata={"description": "YYYY-MM-DD, the branch's local day"}),
        "timezone": ma.fields.String(metadata={"description": "IANA name of the hall's zone"}),
        "tickets": ma.fields.Integer(),
        "arrivals": ma.fields.Integer(),
        "arrivals_per_hour": ma.fields.List(
            ma.fields.Integer(), metadata={"description": "24 counts, local hours 0..23"}
        ),
        "served": ma.fields.Integer(),
        "wait_s": _object(DISTRIBUTION),
        "service_s": _object(DISTRIBUTION),
        "per_service": _object("per service code: {tickets, wait_s, service_s}"),
        "abandonment": _object("{no_show, left, remote_never_arrived, rate}"),
        "counters": ma.fields.List(
            ma.fields.Dict(keys=ma.fields.String()),
            metadata={"description": "per counter: its utilisation over the day"},
        ),
        "smart_counters": _object("{transactions, failed, teller_served, off_counter_rate}"),
    },
    name="FlowStats",
)


# --------------------------------------------------------------------------- face


class SettingsIn(StrictSchema):
    face_tolerance = ma.fields.Float(
        required=True,
        metadata={"description": "1:N match tolerance, 0.3..0.8 (default 0.6; lower is stricter)"},
    )


SettingsOut = ma.Schema.from_dict(
    {"branch_id": ma.fields.String(), "face_tolerance": ma.fields.Float()},
    name="BranchSettings",
)


class ConsentIn(StrictSchema):
    text_version = ma.fields.String(load_default=face.CONSENT_TEXT_VERSION)


class ConsentOut(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["none", "granted", "withdrawn"]})
    text_version = ma.fields.String(allow_none=True)
    granted_at = Timestamp(allow_none=True)
    withdrawn_at = Timestamp(allow_none=True)
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


# --------------------------------------------------------------------------- fleet


class TemplateIn(StrictSchema):
    model = ma.fields.String(required=True, validate=ma.validate.Length(1, 80))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 80))
    params = ma.fields.Dict(required=True)


TemplateOut = ma.Schema.from_dict(
    {
        "id": ma.fields.Integer(),
        "model": ma.fields.String(),
        "name": ma.fields.String(),
        "version": ma.fields.Integer(),
        "params": ma.fields.Dict(keys=ma.fields.String()),
        "created_at": Timestamp(),
    },
    name="FleetTemplate",
)

TemplatesOut = page_schema(TemplateOut, "FleetTemplatePage")


class RolloutIn(StrictSchema):
    template_id = ma.fields.Integer(required=True)
    percentage = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 100))
    branch_id = ma.fields.String(load_default=None)


class AdvanceIn(StrictSchema):
    percentage = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 100))


class ResumeIn(StrictSchema):
    exclude_rejecting = ma.fields.Boolean(load_default=False)


RolloutOut = ma.Schema.from_dict(
    {
        "id": ma.fields.Integer(),
        "template": ma.fields.Nested(TemplateOut),
        "branch_id": ma.fields.String(allow_none=True),
        "percentage": ma.fields.Integer(),
        "status": ma.fields.String(),
        "health": ma.fields.Dict(
            keys=ma.fields.String(),
            values=ma.fields.Integer(),
            metadata={"description": "devices by state: applied, in_sync, rejected, ..."},
        ),
        "devices": ma.fields.List(
            ma.fields.Dict(keys=ma.fields.String()),
            metadata={"description": "{device_id, state, rejected, applied_version} each"},
        ),
        "created_at": Timestamp(),
    },
    name="FleetRollout",
)

ROLLOUT_STATUSES = ("running", "halted", "completed", "rolled_back")
RolloutsOut = page_schema(RolloutOut, "FleetRolloutPage")

FleetOut = ma.Schema.from_dict(
    {
        "branch_id": ma.fields.String(),
        "models": _object("per model: {devices, online, and a count per lifecycle status}"),
    },
    name="FleetOverview",
)


OffCounterOut = ma.Schema.from_dict(
    {
        "branch_id": ma.fields.String(),
        "from": ma.fields.String(metadata={"description": "YYYY-MM-DD"}),
        "to": ma.fields.String(metadata={"description": "YYYY-MM-DD"}),
        "smart_transactions": ma.fields.Integer(),
        "teller_served": ma.fields.Integer(),
        "off_counter_rate": ma.fields.Float(allow_none=True),
        "days": ma.fields.List(
            ma.fields.Dict(keys=ma.fields.String()),
            metadata={
                "description": "{day, smart_transactions, teller_served, off_counter_rate} each"
            },
        ),
    },
    name="OffCounter",
)


# --------------------------------------------------------------------------- cash tasks


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
    approved_at = Timestamp(allow_none=True)
    verified = ma.fields.List(ma.fields.String())
    armed_at = Timestamp(allow_none=True)
    unlock_expires_at = Timestamp(allow_none=True)
    unlock_code = ma.fields.String(
        metadata={"description": "only for the task's loaders, while the unlock is valid"}
    )
    unlocked_at = Timestamp(allow_none=True)
    counts = ma.fields.Dict()
    loaded = ma.fields.Dict()
    review = ma.fields.String(allow_none=True)
    review_note = ma.fields.String(allow_none=True)
    loaded_at = Timestamp(allow_none=True)
    door_closed_at = Timestamp(allow_none=True)
    closed_at = Timestamp(allow_none=True)
    cancelled_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class CashTaskUpdateOut(CashTaskOut):
    """The ``cash_task.update`` push: the task as the API shows it (the unlock code only in the
    push to its two loaders), or, when the lock was refused, why."""

    refused = ma.fields.String(metadata={"description": "why an unlock was refused"})
    details = ma.fields.Dict(metadata={"description": "refused: the lock, loaders, task named"})


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


# --------------------------------------------------------------------------- vein enrolment


class VeinConsentIn(StrictSchema):
    text_version = ma.fields.String(load_default=veins.CONSENT_TEXT_VERSION)


class VeinConsentOut(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["none", "granted", "withdrawn"]})
    text_version = ma.fields.String(allow_none=True)
    granted_at = Timestamp(allow_none=True)
    withdrawn_at = Timestamp(allow_none=True)
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
    requested_at = Timestamp()
    enrolled_at = Timestamp(allow_none=True)
    failure_reason = ma.fields.String(allow_none=True)
    revoke_requested_at = Timestamp(allow_none=True)


class EnrolmentUpdateOut(EnrolmentOut):
    """The ``vein_enrolment.update`` push: the enrolment as the API shows it; when it ends,
    why."""

    source = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    wiped_by = ma.fields.String(allow_none=True)


class ClientArrivedOut(ma.Schema):
    """The ``client.arrived`` push to a VIP client's relationship manager."""

    branch_id = ma.fields.String()
    client_id = ma.fields.Integer()
    name = ma.fields.String()
    segment = ma.fields.String(allow_none=True)
    at = Timestamp()
    device_id = ma.fields.String()


class ArrivalOut(ClientArrivedOut):
    """One sighting of a VIP client at a branch door (GET /face/arrivals)."""

    id = ma.fields.Integer()


ArrivalPage = page_schema(ArrivalOut, "FaceArrivalPage")


class EnrolmentPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EnrolmentOut))
    next_cursor = ma.fields.String(allow_none=True)
