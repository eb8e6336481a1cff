"""Device uplinks at the centre, the domain half of the ingest: parse a message once, and store
a batch of them with their effects in one transaction. No threads and no MQTT here: the hub
role (``backend/roles/ingest.py``) feeds this from the central broker.

Parsing (``parse_uplink``): topic and envelope are read once, into an ``Inbound`` that every
later step uses (the hub's own checks, the writer, the areas' handlers see a ``ports.Uplink``).

Storing (``store_batch``), in the caller's transaction:

1. duplicates are dropped by envelope id: first against the ids of recent batches (memory),
   then by the database itself (``INSERT … ON CONFLICT (envelope_id) DO NOTHING RETURNING``),
   so only rows really inserted have effects, even with several ingest processes;
2. the effects of each new message, in arrival order: the device's live view (birth, death,
   state documents, last seen), the twin's reported side, command acks (first terminal ack
   wins), alarm rules (``rules``, by device kind), and the handlers other areas declared for
   the message's kind (``UplinkRoutes`` port), each in its own SAVEPOINT;
3. what must happen after the commit is returned (``Outcome``): the new ids, the live pushes
   (``device.state``, ``device.alarm``, rendered now by their declared schemas) and the acks
   to wake waiting commands.

What is stored of a message's ``data`` (``stored_data``): all of it, except for the types in
``KEPT_FIELDS``, whose data the centre acts on in flight but keeps only in part. A door
camera's ``camera.face`` carries a face encoding: the face area matches it against consenting
clients (a match becomes a sighting: client, time, distance) and the row keeps only the track
id, quality and model, so a stranger's face leaves no biometric trace in ``device_messages``
(nor in an error's logged parameters).

Messages of unknown or retired devices are dropped and counted; a branch edge registers itself
on its first message. ``sweep_offline`` raises and clears ``offline`` alarms.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.devices.alarms import alarm_view, apply_signal, open_alarms_for
from backend.devices.models import Device, DeviceAlarm, DeviceCommand, DeviceMessage
from backend.devices.rules import AlarmSignal, offline_signal, signals_for
from backend.platform.live import rooms_for
from backend.platform.ports import HallForDevices, Uplink, UplinkRoutes
from backend.platform.wiring import live_of, port
from edge.protocol import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SKEW_S,
    UPLINK_CHANNELS,
    Ack,
    Envelope,
    ProtocolError,
    Topic,
    decode_envelope_ts,
    parse_ack,
    parse_topic,
)

log = logging.getLogger(__name__)

OPEN_COMMAND_STATUSES = ("pending", "sent", "timeout")
MAX_VERSION = 2**31 - 1  # devices.reported_version is an INTEGER (PostgreSQL: 32 bits)
OFFLINE_AFTER_S = 60.0
STALE_AFTER_S = 600.0


# Message type -> the only data fields stored (see the module docstring).
KEPT_FIELDS: dict[str, frozenset[str]] = {
    "camera.face": frozenset({"track_id", "quality", "model"}),
}


def stored_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """What ``device_messages.data`` keeps of a message's data."""
    kept = KEPT_FIELDS.get(type_)
    if kept is None:
        return data
    return {k: v for k, v in data.items() if k in kept}


@dataclass(frozen=True)
class Inbound:
    """One uplink, parsed once: topic, envelope, when the centre got it and when the device
    says it happened (``ts``, parsed from the envelope)."""

    topic: Topic
    env: Envelope
    received_at: datetime
    ts: datetime | None = None

    @property
    def timestamp(self) -> datetime:
        return self.ts if self.ts is not None else self.env.timestamp

    def uplink(self) -> Uplink:
        t = self.topic
        return Uplink(
            t.branch_id,
            t.device_type,
            t.device_id,
            t.channel,
            self.env.type,
            dict(self.env.data),
            self.env.id,
            self.ts,
            bool(self.env.historical),
        )


@dataclass(frozen=True)
class Rejected:
    """Why a message was not taken: ``reason`` is a stats key; ``refused`` messages (a clock
    too far ahead) are refused for good, so the edge is told it may forget them."""

    reason: str
    topic: Topic | None = None
    envelope_id: str | None = None
    refused: bool = False


def parse_uplink(
    topic: str,
    payload: bytes,
    now: datetime,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
) -> Inbound | Rejected | None:
    """An uplink to store, a rejection, or None for traffic going down (commands, desired)."""
    try:
        parsed = parse_topic(topic)
    except ProtocolError:
        return Rejected("bad_topic")
    if parsed.channel not in UPLINK_CHANNELS:
        return None
    try:
        env, ts = decode_envelope_ts(payload, max_bytes=max_bytes, max_skew_s=None)
    except ProtocolError as exc:
        log.info("ingest dropped a payload on %s: %s", topic, exc)
        return Rejected("bad_payload", parsed)
    if (ts - now).total_seconds() > max_skew_s:
        return Rejected("clock_skew", parsed, env.id, refused=True)
    return Inbound(parsed, env, now, ts)


@dataclass
class Outcome:
    """What a stored batch leaves to do after its commit."""

    new_ids: list[str] = field(default_factory=list)
    live: list[tuple[str, dict[str, Any], list[str]]] = field(default_factory=list)
    acks: list[tuple[str, str]] = field(default_factory=list)


def device_rooms(branch_id: str) -> list[str]:
    return rooms_for(branches=[branch_id], roles=["admin"])


def store_batch(
    session: Session,
    items: list[Inbound],
    now: datetime,
    *,
    recent: Container[str] = (),
    stats: Counter[str] | None = None,
) -> Outcome:
    """Store a batch and apply its effects (see the module); the caller commits."""
    stats = stats if stats is not None else Counter()
    fresh: list[Inbound] = []
    batch_ids: set[str] = set()
    for item in items:
        if item.env.id in batch_ids or item.env.id in recent:
            stats["duplicates"] += 1
            continue
        batch_ids.add(item.env.id)
        fresh.append(item)
    devices = _devices(session, fresh, now)
    rows, kept = [], []
    for item in fresh:
        device = devices.get(item.topic.device_id)
        if (
            device is None
            or device.device_type != item.topic.device_type
            or device.branch_id != item.topic.branch_id
            or device.status == "retired"
        ):
            stats["unknown_device"] += 1
            continue
        env = item.env
        rows.append(
            {
                "envelope_id": env.id,
                "device_pk": device.id,
                "branch_id": device.branch_id,
                "channel": item.topic.channel,
                "type": env.type,
                "seq": env.seq,
                "ts": item.timestamp,
                "received_at": item.received_at,
                "historical": bool(env.historical),
                "data": stored_data(env.type, env.data),
            }
        )
        kept.append((item, device))
    inserted = _insert(session, rows)
    outcome = Outcome()
    changed: dict[int, Device] = {}
    alarms: list[tuple[DeviceAlarm, Device]] = []
    open_alarms: dict[tuple[int, str], DeviceAlarm] | None = None
    acks: list[tuple[Ack, Device]] = []
    hall = port(session, HallForDevices)
    routes = port(session, UplinkRoutes)
    # last_seen / last_seq of each device: applied once per batch after the loop (the
    # uplink handlers do not read them), so the device rows are not dirty at every
    # handler's SAVEPOINT, which would flush one UPDATE per message.
    seen: dict[int, tuple[Device, datetime | None, int | None]] = {}
    for item, device in kept:
        if item.env.id not in inserted:
            stats["duplicates"] += 1
            continue
        outcome.new_ids.append(item.env.id)
        if apply_to_device(device, item, now, acks, seen, stats):
            changed[device.id] = device
        signals = signals_for(
            device.device_type,
            item.topic.channel,
            item.env.type,
            item.env.data,
            cash_task_open=lambda d=device: hall.cash_task_open(session, d.device_id, now),
        )
        if signals:
            if open_alarms is None:
                open_alarms = open_alarms_for(session, {d.id for _i, d in kept})
            alarms += _apply_signals(session, device, signals, now, open_alarms, stats)
        uplink = item.uplink()
        for handler in routes.handlers(uplink):
            try:
                with session.begin_nested():
                    handler(session, uplink, now)
            except Exception:  # the handler's SAVEPOINT rolled back with its after-commit work
                stats["handler_errors"] += 1
                log.exception("uplink handler %r failed on %s", handler, item.env.id)
    for device, last_seen, last_seq in seen.values():
        if last_seen is not None:
            device.last_seen = (
                last_seen if device.last_seen is None else max(device.last_seen, last_seen)
            )
            device.last_seq = last_seq
    for ack, device in acks:
        result = session.execute(
            update(DeviceCommand)
            .where(
                DeviceCommand.command_id == ack.command_id,
                DeviceCommand.device_pk == device.id,
                DeviceCommand.status.in_(OPEN_COMMAND_STATUSES),
            )
            .values(status=ack.status, reason=ack.reason[:200], acked_at=now)
        )
        if result.rowcount:
            outcome.acks.append((ack.command_id, ack.status))
    session.flush()
    live = live_of(session)  # renders the pushes now; the ingest sends them after the commit
    for device in changed.values():
        outcome.live.append(
            ("device.state", live.render("device.state", device), device_rooms(device.branch_id))
        )
    for alarm, device in alarms:
        outcome.live.append(
            (
                "device.alarm",
                live.render("device.alarm", alarm_view(alarm, device.device_id)),
                device_rooms(device.branch_id),
            )
        )
    return outcome


def _devices(session: Session, items: list[Inbound], now: datetime) -> dict[str, Device]:
    ids = {item.topic.device_id for item in items}
    if not ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: psycopg parses a query's placeholders in Python, and an IN list
        # of a thousand of them cost more than the lookup.
        param = bindparam("ids", sorted(ids), type_=postgresql.ARRAY(String))
        where = Device.device_id == any_(param)
    else:
        where = Device.device_id.in_(ids)
    devices = {d.device_id: d for d in session.scalars(select(Device).where(where))}
    for item in items:
        topic = item.topic
        if topic.device_type == "edge" and topic.device_id not in devices:
            edge = Device(
                device_id=topic.device_id,
                branch_id=topic.branch_id,
                device_type="edge",
                model="finedge-edge",
                status="active",
                mqtt_username=topic.device_id,
                state={},
                desired={},
                reported={},
                created_at=now,
                updated_at=now,
            )
            session.add(edge)
            session.flush()
            devices[topic.device_id] = edge
            log.info("edge %s of %s registered itself", topic.device_id, topic.branch_id)
    return devices


# PostgreSQL: the batch as one JSON parameter (a multi-row VALUES of ten columns a row made
# psycopg parse ten thousand placeholders in Python, half the batch's time), in order (``n``:
# the ids follow the batch, so each device's rows keep their order).
_PG_INSERT = text(
    """
    INSERT INTO device_messages
        (envelope_id, device_pk, branch_id, channel, type, seq, ts, received_at, historical, data)
    SELECT r.envelope_id, r.device_pk, r.branch_id, r.channel, r.type, r.seq, r.ts,
           r.received_at, r.historical, r.data
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        n integer, envelope_id varchar, device_pk bigint, branch_id varchar, channel varchar,
        type varchar, seq bigint, ts timestamptz, received_at timestamptz, historical boolean,
        data jsonb)
    ORDER BY r.n
    ON CONFLICT (envelope_id) DO NOTHING
    RETURNING envelope_id
    """
)


def _insert(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    if not rows:
        return set()
    table = DeviceMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        payload = json.dumps(
            [
                {
                    **row,
                    "n": n,
                    "ts": row["ts"].isoformat(),
                    "received_at": row["received_at"].isoformat(),
                }
                for n, row in enumerate(rows)
            ],
            separators=(",", ":"),
        )
        return set(session.execute(_PG_INSERT, {"rows": payload}).scalars())
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["envelope_id"])
        .returning(table.c.envelope_id)
    )
    return set(session.execute(stmt, rows).scalars())


def apply_to_device(
    device: Device,
    item: Inbound,
    now: datetime,
    acks: list,
    seen: dict[int, tuple[Device, datetime | None, int | None]] | None = None,
    stats: Counter[str] | None = None,
) -> bool:
    """The message's effect on the device row; True when its live view changed.

    With ``seen``, last_seen and last_seq are collected there (the caller applies them
    once per batch) instead of being set on the row message by message."""
    env, channel, data = item.env, item.topic.channel, item.env.data
    ts = item.timestamp
    changed = False
    kind = env.type.rpartition(".")[2]
    if kind != "death":
        if seen is None:
            device.last_seen = ts if device.last_seen is None else max(device.last_seen, ts)
            device.last_seq = env.seq
        else:
            previous = seen.get(device.id)
            latest = previous[1] if previous is not None else None
            seen[device.id] = (device, ts if latest is None else max(latest, ts), env.seq)
        if not env.historical and not device.online and kind != "birth":
            device.online, device.offline_since, changed = True, None, True
    if channel == "state":
        if kind == "birth":
            device.online, device.session, device.offline_since = (True, data.get("session"), None)
            if device.status == "provisioned":
                device.status = "active"
            changed = True
        elif kind == "death" and device.online and device.session in (None, data.get("session")):
            device.online, device.offline_since = False, now
            changed = True
        state = data.get("state")
        if isinstance(state, dict) and (device.state_at is None or ts >= device.state_at):
            device.state, device.state_at = state, ts
            changed = True
    elif channel == "config/reported" and env.type == "config.reported":
        # Only a device's twin report moves the twin: the edge's ``edge.registry_applied``
        # on this channel carries the registry version (microseconds), no twin version.
        version = data.get("version")
        if isinstance(version, int) and device.reported_version <= version <= MAX_VERSION:
            device.reported = {
                "config": data.get("config") if isinstance(data.get("config"), dict) else {},
                "rejected": data.get("rejected") or {},
            }
            device.reported_version = version
            changed = True
    elif channel == "ack":
        try:
            acks.append((parse_ack(env), device))
        except ProtocolError:
            if stats is not None:
                stats["bad_ack"] += 1
    return changed


def _apply_signals(
    session: Session,
    device: Device,
    signals: list[AlarmSignal],
    now: datetime,
    open_alarms: dict[tuple[int, str], DeviceAlarm],
    stats: Counter[str],
) -> list[tuple[DeviceAlarm, Device]]:
    changed = []
    for signal in signals:
        alarm = apply_signal(session, device, signal, now, open_alarms)
        if alarm is not None:
            stats["alarm_changes"] += 1
            changed.append((alarm, device))
    return changed


def sweep_offline(
    session: Session,
    now: datetime,
    *,
    offline_after_s: float = OFFLINE_AFTER_S,
    stale_after_s: float = STALE_AFTER_S,
    branches: Collection[str] | None = None,
) -> Outcome:
    """Raise or clear ``offline`` alarms of active devices (of ``branches`` if given: a hub
    sweeps the branches it ingests); the pushes to make after commit."""
    stmt = select(Device).where(Device.status == "active")
    if branches is not None:
        stmt = stmt.where(Device.branch_id.in_(sorted(branches)))
    devices = list(session.scalars(stmt))
    open_alarms = open_alarms_for(session, {d.id for d in devices})
    outcome = Outcome()
    changed = []
    for device in devices:
        if device.last_seen is None and device.offline_since is None:
            continue  # never heard of: not yet installed
        signal = offline_signal(
            online=device.online,
            offline_since=device.offline_since,
            last_seen=device.last_seen,
            now=now,
            offline_after_s=offline_after_s,
            stale_after_s=stale_after_s,
        )
        alarm = apply_signal(session, device, signal, now, open_alarms)
        if alarm is not None:
            changed.append((alarm, device))
    session.flush()
    for alarm, device in changed:
        outcome.live.append(
            ("device.alarm", alarm_view(alarm, device.device_id), device_rooms(device.branch_id))
        )
    return outcome
