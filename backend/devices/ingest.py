"""The central ingest: every branch's uplinks (``fe/v1/+/+/+/#``) into the database, once.

``handle`` runs on the MQTT client's dispatch thread and only parses and validates; one writer
thread takes what accumulated (up to ``batch_size``) and writes it in one transaction:

1. duplicates are dropped by envelope id: first against the ids of recent batches (memory),
   then by the database itself (``INSERT … ON CONFLICT (envelope_id) DO NOTHING RETURNING``),
   so only rows really inserted have effects, even with several ingest processes;
2. the effects of each new message, in arrival order: the device's live view (birth, death,
   state documents, last seen), the twin's reported side, command acks (first terminal ack
   wins), alarm rules, and the uplink handlers other areas registered (hooks.py);
3. after the commit: a receipt to each edge naming every envelope of the batch (stored now or
   before, or refused for good), so its outbox may let them go; ``device.state`` and
   ``device.alarm`` to Socket.IO (the branch's room and admins); acks to waiting commands; the
   ``on_committed`` hook (the benchmark's clock).

A sweep every few seconds raises and clears ``offline`` alarms. Messages of unknown or retired
devices are dropped and counted; a branch edge registers itself on its first message.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from backend.devices import hooks
from backend.devices.alarms import alarm_view, apply_signal, open_alarms_for
from backend.devices.models import Device, DeviceAlarm, DeviceCommand, DeviceMessage
from backend.devices.rules import AlarmSignal, offline_signal, signals_for
from backend.platform.clock import isoformat, utcnow
from backend.platform.db import run_in_transaction
from backend.platform.live import LiveEmitter, rooms_for
from backend.platform.mqtt import Message, MqttPublishError
from edge.protocol import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SKEW_S,
    UPLINK_CHANNELS,
    Ack,
    Envelope,
    ProtocolError,
    RecentIds,
    Topic,
    decode_envelope_ts,
    parse_ack,
    parse_topic,
)

log = logging.getLogger(__name__)

OPEN_COMMAND_STATUSES = ("pending", "sent", "timeout")
MAX_VERSION = 2**31 - 1  # devices.reported_version is an INTEGER (PostgreSQL: 32 bits)


@dataclass
class IngestSettings:
    batch_size: int = 1000
    queue_size: int = 200_000
    max_bytes: int = DEFAULT_MAX_BYTES
    max_skew_s: float = DEFAULT_MAX_SKEW_S
    offline_after_s: float = 60.0
    stale_after_s: float = 600.0
    sweep_every_s: float = 5.0
    recent_ids: int = 200_000


@dataclass(frozen=True)
class Inbound:
    topic: Topic
    env: Envelope
    received_at: datetime
    ts: datetime | None = None  # env.timestamp, parsed once in handle()

    @property
    def timestamp(self) -> datetime:
        return self.ts if self.ts is not None else self.env.timestamp


@dataclass
class _Outcome:
    new_ids: list[str]
    live: list[tuple[str, dict[str, Any], list[str]]]
    acks: list[tuple[str, str]]


def _rooms(branch_id: str) -> list[str]:
    return rooms_for(branches=[branch_id], roles=["admin"])


def device_state_event(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "branch_id": device.branch_id,
        "device_type": device.device_type,
        "status": device.status,
        "online": device.online,
        "last_seen": isoformat(device.last_seen),
        "state": device.state or {},
        "reported_version": device.reported_version,
        "desired_version": device.desired_version,
    }


class IngestService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        live: LiveEmitter,
        *,
        settings: IngestSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_committed: Callable[[list[str]], None] | None = None,
        on_ack: Callable[[str, str], None] | None = None,
        on_receipt: Callable[[str, list[str]], None] | None = None,
        branches: set[str] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.live = live
        self.settings = settings or IngestSettings()
        self.clock = clock
        self.on_committed = on_committed
        self.on_ack = on_ack
        self.on_receipt = on_receipt
        self.branches = branches
        self._dropped: list[tuple[str, str]] = []  # (branch, envelope id) refused in handle()
        self._dropped_lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self._queue: queue.Queue[Inbound] = queue.Queue(self.settings.queue_size)
        self._recent = RecentIds(self.settings.recent_ids)
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0

    # ------------------------------------------------------------------ intake (MQTT thread)

    def handle(self, message: Message) -> None:
        """The MQTT handler: parse and validate, then queue for the writer."""
        self.stats["received"] += 1
        try:
            topic = parse_topic(message.topic)
        except ProtocolError:
            self.stats["bad_topic"] += 1
            return
        if topic.channel not in UPLINK_CHANNELS:
            return  # commands and desired configs going down
        if self.branches is not None and topic.branch_id not in self.branches:
            self.stats["other_branch"] += 1
            return
        try:
            env, ts = decode_envelope_ts(
                message.payload, max_bytes=self.settings.max_bytes, max_skew_s=None
            )
        except ProtocolError as exc:
            self.stats["bad_payload"] += 1
            log.info("ingest dropped a payload on %s: %s", message.topic, exc)
            return
        now = self.clock()
        if (ts - now).total_seconds() > self.settings.max_skew_s:
            self.stats["clock_skew"] += 1
            with self._dropped_lock:  # refused for good: the edge may forget it
                self._dropped.append((topic.branch_id, env.id))
            return
        self.submit(Inbound(topic, env, now, ts))

    def submit(self, item: Inbound) -> None:
        try:
            self._queue.put(item, timeout=5.0)
        except queue.Full:
            self.stats["queue_full_dropped"] += 1
            log.error("ingest queue full: message %s dropped", item.env.id)

    # ------------------------------------------------------------------ the writer

    def start(self) -> IngestService:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="device-ingest", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to ``timeout``), then stop."""
        self.drain(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy or not self._queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                self._maybe_sweep()
                continue
            with self._idle:
                self._busy = True
            try:
                items = [first]
                while len(items) < self.settings.batch_size:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self.write(items)
                self._maybe_sweep()
            except Exception:
                log.exception("ingest writer: unexpected error")
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _maybe_sweep(self) -> None:
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.settings.sweep_every_s
            try:
                self.sweep()
            except Exception:
                log.exception("offline sweep failed")

    def write(self, items: list[Inbound]) -> None:
        """One batch in one transaction; a poison message is isolated, a dead database waited."""
        delay = 0.1
        while True:
            try:
                outcome = run_in_transaction(self.session_factory, lambda s: self._write(s, items))
                break
            except OperationalError as exc:
                if self._stop.is_set():
                    self.stats["lost_on_stop"] += len(items)
                    return
                log.warning("ingest: database unavailable (%s); retrying", exc.orig)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:
                if len(items) == 1:
                    self.stats["dead_letter"] += 1
                    log.exception("ingest: message %s could not be written", items[0].env.id)
                    self._receipt(items)  # a poison message must not block the edge forever
                    return
                for item in items:  # find the poison message; keep the rest
                    self.write([item])
                return
        self._after_commit(outcome, items)

    def _receipt(self, items: list[Inbound]) -> None:
        """Tell each edge which envelopes the centre now holds (stored, already stored, or
        refused for good), so its outbox lets them go."""
        if self.on_receipt is None:
            return
        by_branch: dict[str, list[str]] = {}
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, []
        for branch_id, envelope_id in dropped:
            by_branch.setdefault(branch_id, []).append(envelope_id)
        for item in items:
            by_branch.setdefault(item.topic.branch_id, []).append(item.env.id)
        for branch_id, ids in by_branch.items():
            try:
                self.on_receipt(branch_id, ids)
            except MqttPublishError as exc:  # not connected (e.g. stopping): the edge resends
                log.warning("receipt to %s not sent: %s", branch_id, exc)
            except Exception:  # the edge resends after its timeout; nothing is lost
                log.warning("receipt to %s failed", branch_id, exc_info=True)

    def _after_commit(self, outcome: _Outcome, items: list[Inbound]) -> None:
        self._receipt(items)
        self._recent.add_all(outcome.new_ids)
        self.stats["written"] += len(outcome.new_ids)
        for event, data, rooms in outcome.live:
            self.live.emit(event, data, rooms=rooms)
        if self.on_ack is not None:
            for command_id, status in outcome.acks:
                self.on_ack(command_id, status)
        if self.on_committed is not None and outcome.new_ids:
            self.on_committed(outcome.new_ids)

    # ------------------------------------------------------------------ one transaction

    def _write(self, session: Session, items: list[Inbound]) -> _Outcome:
        now = self.clock()
        fresh: list[Inbound] = []
        batch_ids: set[str] = set()
        for item in items:
            if item.env.id in batch_ids or item.env.id in self._recent:
                self.stats["duplicates"] += 1
                continue
            batch_ids.add(item.env.id)
            fresh.append(item)
        devices = self._devices(session, fresh, now)
        rows, kept = [], []
        for item in fresh:
            device = devices.get(item.topic.device_id)
            if (
                device is None
                or device.device_type != item.topic.device_type
                or device.branch_id != item.topic.branch_id
                or device.status == "retired"
            ):
                self.stats["unknown_device"] += 1
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
                    "data": env.data,
                }
            )
            kept.append((item, device))
        inserted = self._insert(session, rows)
        outcome = _Outcome([], [], [])
        changed: dict[int, Device] = {}
        alarms: list[tuple[DeviceAlarm, Device]] = []
        open_alarms: dict[tuple[int, str], DeviceAlarm] | None = None
        acks: list[tuple[Ack, Device]] = []
        handlers = hooks.uplink_handlers()
        # last_seen / last_seq of each device: applied once per batch after the loop (the
        # uplink handlers do not read them), so the device rows are not dirty at every
        # handler's SAVEPOINT, which would flush one UPDATE per message.
        seen: dict[int, tuple[Device, datetime | None, int | None]] = {}
        for item, device in kept:
            if item.env.id not in inserted:
                self.stats["duplicates"] += 1
                continue
            outcome.new_ids.append(item.env.id)
            if self._apply(device, item, now, acks, seen):
                changed[device.id] = device
            signals = signals_for(
                device.device_type,
                item.topic.channel,
                item.env.type,
                item.env.data,
                cash_task_open=lambda d=device: hooks.cash_task_open(session, d.device_id, now),
            )
            if signals:
                if open_alarms is None:
                    open_alarms = open_alarms_for(session, {d.id for _i, d in kept})
                alarms += self._signals(session, device, signals, now, open_alarms)
            for handler in handlers:
                topic = item.topic
                try:
                    handler(
                        session,
                        topic.branch_id,
                        topic.device_type,
                        topic.device_id,
                        item.env,
                        channel=topic.channel,
                    )
                except Exception:
                    self.stats["handler_errors"] += 1
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
        for device in changed.values():
            outcome.live.append(
                ("device.state", device_state_event(device), _rooms(device.branch_id))
            )
        for alarm, device in alarms:
            outcome.live.append(
                ("device.alarm", alarm_view(alarm, device.device_id), _rooms(device.branch_id))
            )
        return outcome

    def _devices(self, session: Session, items: list[Inbound], now: datetime) -> dict[str, Device]:
        ids = {item.topic.device_id for item in items}
        if not ids:
            return {}
        devices = {
            d.device_id: d for d in session.scalars(select(Device).where(Device.device_id.in_(ids)))
        }
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

    def _insert(self, session: Session, rows: list[dict[str, Any]]) -> set[str]:
        if not rows:
            return set()
        table = DeviceMessage.__table__
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["envelope_id"])
            .returning(table.c.envelope_id)
        )
        return set(session.execute(stmt, rows).scalars())

    def _apply(
        self,
        device: Device,
        item: Inbound,
        now: datetime,
        acks: list,
        seen: dict[int, tuple[Device, datetime | None, int | None]] | None = None,
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
                device.online, device.session, device.offline_since = (
                    True,
                    data.get("session"),
                    None,
                )
                if device.status == "provisioned":
                    device.status = "active"
                changed = True
            elif (
                kind == "death" and device.online and device.session in (None, data.get("session"))
            ):
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
                self.stats["bad_ack"] += 1
        return changed

    def _signals(
        self,
        session: Session,
        device: Device,
        signals: list[AlarmSignal],
        now: datetime,
        open_alarms: dict[tuple[int, str], DeviceAlarm],
    ) -> list[tuple[DeviceAlarm, Device]]:
        changed = []
        for signal in signals:
            alarm = apply_signal(session, device, signal, now, open_alarms)
            if alarm is not None:
                self.stats["alarm_changes"] += 1
                changed.append((alarm, device))
        return changed

    # ------------------------------------------------------------------ offline sweep

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Raise or clear ``offline`` alarms of active devices; emits the changes."""
        now = now or self.clock()
        outcome = run_in_transaction(
            self.session_factory, lambda s: sweep_offline(s, now, self.settings)
        )
        for event, data, rooms in outcome.live:
            self.live.emit(event, data, rooms=rooms)
        return {"alarm_changes": len(outcome.live)}


def sweep_offline(session: Session, now: datetime, settings: IngestSettings) -> _Outcome:
    devices = list(session.scalars(select(Device).where(Device.status == "active")))
    open_alarms = open_alarms_for(session, {d.id for d in devices})
    outcome = _Outcome([], [], [])
    changed = []
    for device in devices:
        if device.last_seen is None and device.offline_since is None:
            continue  # never heard of: not yet installed
        signal = offline_signal(
            online=device.online,
            offline_since=device.offline_since,
            last_seen=device.last_seen,
            now=now,
            offline_after_s=settings.offline_after_s,
            stale_after_s=settings.stale_after_s,
        )
        alarm = apply_signal(session, device, signal, now, open_alarms)
        if alarm is not None:
            changed.append((alarm, device))
    session.flush()
    for alarm, device in changed:
        outcome.live.append(
            ("device.alarm", alarm_view(alarm, device.device_id), _rooms(device.branch_id))
        )
    return outcome
