"""Devices (CONTRACT §2): registry and provisioning, state, twin, commands, alarms.

Provisioning answers the device's MQTT password and HMAC secret once; afterwards only their
hash and ciphertext exist. A device of a branch the caller may not see is 404.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from backend.devices import queries, service
from backend.devices.commands import MAX_WAIT_S
from backend.devices.models import DEVICE_STATUSES, SEVERITIES
from backend.devices.secretbox import SecretBox
from backend.platform.after_commit import push_live
from backend.platform.live import rooms_for
from backend.platform.ports import DeviceLink
from edge.protocol import DEVICE_TYPES
from miniapp_api.common import PageArgs, StrictSchema, Timestamp, current_actor, db, page_schema
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/api/v1/devices",
    description="Branch devices: registry, state, twin, commands, alarms",
)


def _ext():
    return current_app.extensions["finedge"]


def _link() -> DeviceLink:
    """This process's device link: the hub, or a command link (backend/bootstrap.py)."""
    return _ext().wiring.get(DeviceLink)


def _box() -> SecretBox:
    return SecretBox(_ext().config.secret_key)


def _notify():
    return _link().registry_changed


# --------------------------------------------------------------------------- schemas


def _known_kind(device_type: str) -> bool:
    """Checked at request time: the kinds registered now (a kind may be added at run time)."""
    if device_type not in DEVICE_TYPES:
        raise ma.ValidationError(f"one of {', '.join(sorted(DEVICE_TYPES))}")
    return True


class NewDevice(StrictSchema):
    branch_id = ma.fields.String(required=True)
    device_type = ma.fields.String(
        required=True,
        validate=lambda kind: _known_kind(kind),
        metadata={"description": "a device kind of the wire protocol (edge/protocol/kinds.py)"},
    )
    device_id = ma.fields.String(required=True)
    model = ma.fields.String(load_default="")


class CredentialsOut(ma.Schema):
    device_id = ma.fields.String()
    branch_id = ma.fields.String()
    device_type = ma.fields.String()
    status = ma.fields.String()
    mqtt_username = ma.fields.String()
    mqtt_password = ma.fields.String()
    hmac_secret = ma.fields.String()


class DeviceListArgs(PageArgs):
    branch_id = ma.fields.String()
    device_type = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(DEVICE_STATUSES))


class DeviceOut(ma.Schema):
    """A device (the registry row); also the base of the ``device.state`` push."""

    device_id = ma.fields.String()
    branch_id = ma.fields.String()
    device_type = ma.fields.String()
    model = ma.fields.String()
    status = ma.fields.String()
    online = ma.fields.Boolean()
    last_seen = Timestamp(allow_none=True)


class DeviceStateOut(DeviceOut):
    """The ``device.state`` push: the device and its latest state document."""

    state = ma.fields.Dict()


class AlarmOut(ma.Schema):
    id = ma.fields.Integer()
    device_id = ma.fields.String(allow_none=True)
    branch_id = ma.fields.String()
    rule = ma.fields.String()
    severity = ma.fields.String()
    message = ma.fields.String()
    details = ma.fields.Dict()
    status = ma.fields.String(metadata={"description": "active_unack|active_ack|cleared_unack|…"})
    active = ma.fields.Boolean()
    acknowledged = ma.fields.Boolean()
    occurrences = ma.fields.Integer()
    raised_at = Timestamp()
    cleared_at = Timestamp(allow_none=True)
    acked_at = Timestamp(allow_none=True)
    acked_by = ma.fields.Integer(allow_none=True)


class TwinOut(ma.Schema):
    desired = ma.fields.Dict()
    desired_version = ma.fields.Integer()
    reported = ma.fields.Dict()
    reported_version = ma.fields.Integer()
    rejected = ma.fields.Dict()
    delta = ma.fields.Dict(metadata={"description": "{key: {desired, reported}} not yet applied"})
    in_sync = ma.fields.Boolean()


class DeviceDetailOut(DeviceStateOut):
    state_at = Timestamp(allow_none=True)
    session = ma.fields.String(allow_none=True)
    last_seq = ma.fields.Integer(allow_none=True)
    created_at = Timestamp()
    alarms = ma.fields.List(ma.fields.Nested(AlarmOut))
    twin = ma.fields.Nested(TwinOut)
    commands = ma.fields.List(ma.fields.String())


class StatusPatch(StrictSchema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(DEVICE_STATUSES))


class ConfigPatch(StrictSchema):
    desired = ma.fields.Dict(
        required=True, metadata={"description": "JSON merge patch: null removes a key"}
    )


class CommandIn(StrictSchema):
    name = ma.fields.String(required=True, metadata={"example": "lock.lock"})
    args = ma.fields.Dict(load_default=dict)
    id = ma.fields.UUID(
        load_default=None,
        metadata={"description": "client-chosen command id: a retry with it is never sent twice"},
    )
    wait_s = ma.fields.Float(
        load_default=None,
        validate=ma.validate.Range(min=0, max=MAX_WAIT_S),
        metadata={"description": "how long to wait for the ack (0: return once sent)"},
    )


class CommandOut(ma.Schema):
    id = ma.fields.String()
    device_id = ma.fields.String()
    name = ma.fields.String()
    args = ma.fields.Dict()
    status = ma.fields.String(metadata={"description": "pending|sent|ok|rejected|failed|timeout"})
    reason = ma.fields.String()
    created_at = Timestamp()
    sent_at = Timestamp(allow_none=True)
    acked_at = Timestamp(allow_none=True)
    expires_at = Timestamp(allow_none=True)


class AlarmArgs(PageArgs):
    branch_id = ma.fields.String()
    device_id = ma.fields.String()
    status = ma.fields.String(load_default="open", validate=ma.validate.OneOf(["open", "all"]))
    severity = ma.fields.String(validate=ma.validate.OneOf(SEVERITIES))


class MessageArgs(PageArgs):
    channel = ma.fields.String()


class MessageOut(ma.Schema):
    id = ma.fields.String(attribute="envelope_id")
    channel = ma.fields.String()
    type = ma.fields.String()
    seq = ma.fields.Integer()
    ts = Timestamp()
    received_at = Timestamp()
    historical = ma.fields.Boolean()
    data = ma.fields.Dict()


# --------------------------------------------------------------------------- views


@blp.route("")
class Devices(MethodView):
    @blp.arguments(NewDevice)
    @blp.response(201, CredentialsOut)
    def post(self, body):
        """Register a device (admin). The password and HMAC secret are shown only now."""
        device, creds = service.provision_device(
            db(), current_actor(), _box(), notify=_notify(), **body
        )
        return {**DeviceOut().dump(device), **creds.to_dict()}

    @blp.arguments(DeviceListArgs, location="query")
    @blp.response(200, page_schema(DeviceOut, "DevicePage"))
    def get(self, args):
        """Devices the caller may see, optionally of one branch, type or status."""
        return queries.list_devices(db(), current_actor(), **args)


@blp.route("/alarms")
class Alarms(MethodView):
    @blp.arguments(AlarmArgs, location="query")
    @blp.response(200, page_schema(AlarmOut, "AlarmPage"))
    def get(self, args):
        """Alarms, newest first: open ones (not both cleared and acknowledged) by default."""
        status = args.pop("status")
        return queries.list_alarms(db(), current_actor(), open_only=status == "open", **args)


@blp.route("/alarms/<int:alarm_id>/ack")
class AlarmAck(MethodView):
    @blp.response(200, AlarmOut)
    def post(self, alarm_id):
        """Acknowledge an alarm (admin, or a teller or RM of its branch)."""
        session = db()
        alarm, device = service.acknowledge_alarm(session, current_actor(), alarm_id)
        view = queries.alarm_view(alarm, device.device_id)
        push_live(
            session,
            _ext().live,
            "device.alarm",
            view,
            rooms_for(branches=[device.branch_id], roles=["admin"]),
        )
        return view


@blp.route("/<string:device_id>")
class DeviceDetail(MethodView):
    @blp.response(200, DeviceDetailOut)
    def get(self, device_id):
        """State, last seen, open alarms, desired vs reported configuration."""
        return queries.device_detail(db(), current_actor(), device_id)

    @blp.arguments(StatusPatch)
    @blp.response(200, DeviceOut)
    def patch(self, body, device_id):
        """Lifecycle (admin): provisioned -> active <-> maintenance; any -> retired (final)."""
        device = service.change_status(
            db(), current_actor(), device_id, body["status"], notify=_notify()
        )
        return device


@blp.route("/<string:device_id>/config")
class DeviceConfig(MethodView):
    @blp.arguments(ConfigPatch)
    @blp.response(200, TwinOut)
    def patch(self, body, device_id):
        """Change the desired configuration (admin); the device reports what it applied."""
        device = service.set_desired(
            db(), current_actor(), device_id, body["desired"], notify=_notify()
        )
        return queries.twin(device)


@blp.route("/<string:device_id>/credentials")
class DeviceCredentials(MethodView):
    @blp.response(200, CredentialsOut)
    def post(self, device_id):
        """New MQTT password and HMAC secret (admin), shown only now."""
        session = db()
        creds = service.rotate_credentials(
            session, current_actor(), _box(), device_id, notify=_notify()
        )
        device = queries.get_device(session, current_actor(), device_id)
        return {**DeviceOut().dump(device), **creds.to_dict()}


@blp.route("/<string:device_id>/commands")
class DeviceCommands(MethodView):
    @blp.arguments(CommandIn)
    @blp.response(201, CommandOut)
    @blp.alt_response(200, schema=CommandOut, description="the same command id again (not resent)")
    def post(self, body, device_id):
        """Sign and send a command (admin) and wait for the device's ack (``wait_s``)."""
        view, created = _link().send(
            current_actor(),
            device_id,
            body["name"],
            body["args"],
            command_id=str(body["id"]) if body["id"] else None,
            wait_s=body["wait_s"],
        )
        return view, 201 if created else 200

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(CommandOut, "DeviceCommandPage"))
    def get(self, args, device_id):
        """The commands sent to the device, newest first, with their outcomes."""
        return queries.list_commands(db(), current_actor(), device_id, **args)


@blp.route("/<string:device_id>/commands/<string:command_id>")
class DeviceCommand(MethodView):
    @blp.response(200, CommandOut)
    def get(self, device_id, command_id):
        """One command and its outcome."""
        return queries.get_command(db(), current_actor(), device_id, command_id)


@blp.route("/<string:device_id>/messages")
class DeviceMessages(MethodView):
    @blp.arguments(MessageArgs, location="query")
    @blp.response(200, page_schema(MessageOut, "DeviceMessagePage"))
    def get(self, args, device_id):
        """What the device sent, newest first (optionally one channel)."""
        return queries.list_messages(db(), current_actor(), device_id, **args)
