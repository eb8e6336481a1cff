"""The hall's inbound port for device uplinks: ``on_device_event``.

The central ingest (backend/devices/ingest.py) calls it for every new uplink, once, inside the
transaction that records the message, so the hall's reaction commits (or not) with it. It
dispatches by device type and message type; anything the hall does not care about is ignored.

    edge    queue.ticket_issued/called/done     -> reconcile.apply_edge_event
    caller  caller.call_next, caller.serving_done (live only; a historical one, replayed
            after an outage, was served by the edge's own queue and is ignored)
                                                -> counters.device_call_next / device_serving_done
    lock    lock.verification, lock.unlocked    -> cash.flow
    lock    lock.capture, lock.enrolled, lock.enrol_failed, lock.revoked, and acks of the
            hall's lock.enroll / lock.revoke    -> cash.veins (finger-vein enrolment)
    cash    cash.exchange_*, cash.replenished, cash.safe_door_*   -> cash.flow
    camera  camera.face {encoding}              -> face.service.identify_at_door
    counter counter.transaction                 -> smart-counter statistics
    counter config/reported (rejected keys)     -> fleet.on_config_reported: halts a rollout
    any device linked to a counter: device.death / device.birth on ``state`` -> re-routing
    display device.birth on ``state``           -> the current queue board (display.queue)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import reconcile, runtime
from backend.branch.cash import service as flow
from backend.branch.fleet import service as fleet
from backend.branch.halls import get_hall, local_day
from backend.branch.models import HallCounter, SmartCounterDaily
from backend.branch.queue import service as counters
from backend.branch.queue import service as queue
from backend.branch.runtime import Hall
from backend.branch.veins import service as veins
from edge.protocol import Envelope, ProtocolError, parse_ts

log = logging.getLogger(__name__)


def _fields(envelope: Envelope | Mapping[str, Any]) -> tuple[str, dict[str, Any], object]:
    if isinstance(envelope, Envelope):
        return envelope.type, dict(envelope.data), envelope.ts
    return str(envelope.get("type", "")), dict(envelope.get("data") or {}), envelope.get("ts")


def _historical(envelope: Envelope | Mapping[str, Any]) -> bool:
    if isinstance(envelope, Envelope):
        return bool(envelope.historical)
    return envelope.get("historical") is True


CALLER_EVENTS = ("caller.call_next", "caller.serving_done")


def on_device_event(
    session: Session,
    branch_id: str,
    device_type: str,
    device_id: str,
    envelope: Envelope | Mapping[str, Any],
    *,
    channel: str = "event",
    hall: Hall | None = None,
    now: datetime | None = None,
) -> str | None:
    """React to one uplink; a short word for what happened (tests, logs), None if nothing.

    Runs in a SAVEPOINT: a message the hall cannot handle is logged and rolled back on its
    own, never taking the ingest's batch (the device's own record of it) down with it; the
    pushes and commands it had queued are dropped with it."""
    queued = runtime.pending_after_commit(session)
    try:
        with session.begin_nested():
            return _dispatch(
                session,
                branch_id,
                device_type,
                device_id,
                envelope,
                channel,
                hall or runtime.current(),
                now,
            )
    except Exception:
        runtime.drop_after_commit(session, keep=queued)
        log.exception(
            "hall: %s from %s/%s not handled", _fields(envelope)[0], device_type, device_id
        )
        return "failed"


def _dispatch(
    session: Session,
    branch_id: str,
    device_type: str,
    device_id: str,
    envelope: Envelope | Mapping[str, Any],
    channel: str,
    hall: Hall,
    now: datetime | None,
) -> str | None:
    now = hall.now(now)
    type_, data, ts = _fields(envelope)
    try:
        at = parse_ts(ts) if ts is not None else now
    except ProtocolError:
        at = now
    if channel == "state":
        if device_type == "display" and type_ == "device.birth":
            # only the birth: the display's own state messages must not echo a board back
            return queue.show_board_to(session, hall, branch_id, device_id, now)
        return _state(session, hall, branch_id, device_id, type_, data, now)
    if channel == "config/reported" and device_type == fleet.DEVICE_TYPE:
        return fleet.on_config_reported(session, hall, device_id, now)
    if channel == "ack" and device_type == "lock":
        return veins.on_ack(session, hall, device_id, data, now)
    if channel != "event":
        return None
    if device_type == "edge" and type_ in reconcile.EDGE_QUEUE_EVENTS:
        return reconcile.apply_edge_event(session, hall, branch_id, device_id, type_, data, at)
    if device_type == "caller" and type_ in CALLER_EVENTS:
        return _caller(session, hall, branch_id, device_id, envelope, type_, data, now)
    if device_type == "lock" and type_ == "lock.verification":
        return flow.on_verification(session, hall, device_id, data, now)
    if device_type == "lock" and type_ == "lock.unlocked":
        return flow.on_unlocked(session, hall, device_id, data, min(now, at))
    if device_type == "lock" and type_ in veins.LOCK_EVENTS:
        return veins.on_lock_event(session, hall, device_id, type_, data, now)
    if device_type == "cash" and type_ in flow.CASH_EVENTS:
        return flow.on_cash_event(session, hall, device_id, type_, data, now)
    if device_type == "camera" and type_ == "camera.face":
        from backend.branch.face import service as face

        match = face.identify_at_door(
            session, hall, branch_id, data.get("encoding"), device_id=device_id, now=now
        )
        return "recognised" if match else "unknown"
    if device_type == "counter" and type_ == "counter.transaction":
        return _smart_transaction(session, branch_id, device_id, data, at)
    return None


def _caller(
    session: Session,
    hall: Hall,
    branch_id: str,
    device_id: str,
    envelope: Envelope | Mapping[str, Any],
    type_: str,
    data: dict[str, Any],
    now: datetime,
) -> str:
    """The window's call button, decided at the centre while the branch is online. A
    historical press (replayed from the edge's outbox or the device's buffer after an outage)
    is ignored: while the uplink was down the edge served it from its local queue (and its
    ``queue.ticket_*`` events reconcile that), so it is never served twice."""
    if _historical(envelope):
        log.info("caller %s: historical %s ignored (served at the edge)", device_id, type_)
        return "historical"
    if type_ == "caller.call_next":
        return counters.device_call_next(session, hall, branch_id, device_id, data, now)
    return counters.device_serving_done(session, hall, branch_id, device_id, data, now)


def _state(
    session: Session,
    hall: Hall,
    branch_id: str,
    device_id: str,
    type_: str,
    data: dict[str, Any],
    now: datetime,
) -> str | None:
    linked = session.scalar(
        select(HallCounter.id).where(
            HallCounter.branch_id == branch_id, HallCounter.device_id == device_id
        )
    )
    if linked is None:
        return None
    if type_ == "device.death" or data.get("online") is False:
        return (
            "rerouted"
            if counters.counter_device_offline(session, hall, branch_id, device_id, now)
            else None
        )
    if type_ == "device.birth" or data.get("online") is True:
        return (
            "reopened"
            if counters.counter_device_online(session, hall, branch_id, device_id, now)
            else None
        )
    return None


def _smart_transaction(
    session: Session, branch_id: str, device_id: str, data: dict[str, Any], at: datetime
) -> str:
    tx_type = str(data.get("type") or "unknown")[:40]
    ok = data.get("result") == "ok"
    day = local_day(get_hall(session, branch_id), at)
    row = session.scalar(
        select(SmartCounterDaily)
        .where(
            SmartCounterDaily.branch_id == branch_id,
            SmartCounterDaily.day == day,
            SmartCounterDaily.device_id == device_id,
            SmartCounterDaily.tx_type == tx_type,
        )
        .with_for_update()
    )
    if row is None:
        row = SmartCounterDaily(
            branch_id=branch_id, day=day, device_id=device_id, tx_type=tx_type, ok=0, failed=0
        )
        session.add(row)
    if ok:
        row.ok += 1
    else:
        row.failed += 1
    session.flush()
    return "counted"
