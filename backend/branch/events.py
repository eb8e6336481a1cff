"""The hall's reactions to device uplinks, as a table: ``UPLINKS[kind]["<channel>:<type>"]``.

The branch area declares ``UPLINKS`` in its ``area.py``; the composition root gives the routes
to the central ingest, which calls the matching handlers of every new uplink, once, each in its
own SAVEPOINT inside the transaction that records the message, so the hall's reaction commits
(or not) with it and a message the hall cannot handle never takes the batch down. Anything not
in the table is ignored. ``on_device_event`` runs the same table for one message (tests, tools).

    edge    event:queue.ticket_issued/called/done  -> reconcile.apply_edge_event
    caller  event:caller.call_next, caller.serving_done (live only; a historical one, replayed
            after an outage, was served by the edge's own queue and is ignored)
                                                 -> counters.device_call_next / device_serving_done
    lock    event:lock.verification, lock.unlocked  -> cash.flow
    lock    event:lock.capture, lock.enrolled, lock.enrol_failed, lock.revoked, and ack:* of
            the hall's lock.enroll / lock.revoke   -> cash.veins (finger-vein enrolment)
    cash    event:cash.exchange_*, cash.replenished, cash.safe_door_*   -> cash.flow
    camera  event:camera.face {encoding}           -> face.service.identify_at_door
    counter event:counter.transaction              -> smart-counter statistics
    counter config/reported:* (rejected keys)      -> fleet.on_config_reported: halts a rollout
    any kind linked to a counter: state:* (device.death / device.birth) -> re-routing
    display state:device.birth                     -> the current queue board (display.queue)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.branch import reconcile
from backend.branch.cash import service as flow
from backend.branch.face import service as face
from backend.branch.fleet import service as fleet
from backend.branch.halls import get_hall, local_day
from backend.branch.models import HallCounter, SmartCounterDaily
from backend.branch.queue import service as counters
from backend.branch.queue import service as queue
from backend.branch.runtime import Hall
from backend.branch.veins import service as veins
from backend.platform.ports import Uplink, UplinkHandler
from backend.platform.wiring import port
from edge.protocol import Envelope, ProtocolError, parse_ts

log = logging.getLogger(__name__)

HallHandler = Callable[[Session, Hall, Uplink, datetime], "str | None"]


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
    """React to one uplink as the ingest would; a short word for what happened (tests, logs),
    None if nothing. Runs in a SAVEPOINT: a message the hall cannot handle is logged and rolled
    back on its own (with the pushes and commands it had queued for the commit)."""
    uplink = uplink_of(branch_id, device_type, device_id, channel, envelope)
    hall = hall or port(session, Hall)
    outcome = None
    for handler in handlers_for(uplink):
        try:
            with session.begin_nested():
                outcome = handler(session, hall, uplink, hall.now(now)) or outcome
        except Exception:
            log.exception("hall: %s from %s/%s not handled", uplink.type, device_type, device_id)
            outcome = "failed"
    return outcome


def uplink_of(
    branch_id: str,
    device_type: str,
    device_id: str,
    channel: str,
    envelope: Envelope | Mapping[str, Any],
) -> Uplink:
    if isinstance(envelope, Envelope):
        type_, data, ts, historical, id_ = (
            envelope.type,
            dict(envelope.data),
            envelope.ts,
            bool(envelope.historical),
            envelope.id,
        )
    else:
        type_, data, ts = (
            str(envelope.get("type", "")),
            dict(envelope.get("data") or {}),
            envelope.get("ts"),
        )
        historical, id_ = envelope.get("historical") is True, str(envelope.get("id", ""))
    try:
        at = parse_ts(ts) if isinstance(ts, str) else None
    except ProtocolError:
        at = None
    return Uplink(branch_id, device_type, device_id, channel, type_, data, id_, at, historical)


def handlers_for(uplink: Uplink) -> list[HallHandler]:
    table = UPLINKS.get(uplink.device_type, {})
    return [h for h in (table.get(uplink.key), table.get(f"{uplink.channel}:*")) if h]


def routes() -> dict[str, dict[str, UplinkHandler]]:
    """``UPLINKS`` as the ingest calls it: ``(session, uplink, now)``, the hall from the port."""

    def bind(handler: HallHandler) -> UplinkHandler:
        def run(session: Session, uplink: Uplink, _now: datetime) -> str | None:
            hall = port(session, Hall)
            return handler(session, hall, uplink, hall.now())

        run.__name__ = getattr(handler, "__name__", "hall_handler")
        return run

    return {kind: {key: bind(h) for key, h in table.items()} for kind, table in UPLINKS.items()}


def _at(uplink: Uplink, now: datetime) -> datetime:
    return uplink.ts if uplink.ts is not None else now


CALLER_EVENTS = ("caller.call_next", "caller.serving_done")


def _edge_queue(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return reconcile.apply_edge_event(
        session, hall, u.branch_id, u.device_id, u.type, u.data, _at(u, now)
    )


def _verification(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return flow.on_verification(session, hall, u.device_id, u.data, now)


def _unlocked(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return flow.on_unlocked(session, hall, u.device_id, u.data, min(now, _at(u, now)))


def _vein_event(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return veins.on_lock_event(session, hall, u.device_id, u.type, u.data, now)


def _vein_ack(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return veins.on_ack(session, hall, u.device_id, u.data, now)


def _cash_event(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return flow.on_cash_event(session, hall, u.device_id, u.type, u.data, now)


def _face(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    match = face.identify_at_door(
        session, hall, u.branch_id, u.data.get("encoding"), device_id=u.device_id, now=now
    )
    return "recognised" if match else "unknown"


def _smart(session: Session, _hall: Hall, u: Uplink, now: datetime) -> str | None:
    return _smart_transaction(session, u.branch_id, u.device_id, u.data, _at(u, now))


def _config_reported(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return fleet.on_config_reported(session, hall, u.device_id, now)


def _linked_state(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    return _state(session, hall, u.branch_id, u.device_id, u.type, u.data, now)


def _display_state(session: Session, hall: Hall, u: Uplink, now: datetime) -> str | None:
    if u.type == "device.birth":
        # only the birth: the display's own state messages must not echo a board back
        return queue.show_board_to(session, hall, u.branch_id, u.device_id, now)
    return _linked_state(session, hall, u, now)


def _caller(session: Session, hall: Hall, u: Uplink, now: datetime) -> str:
    """The window's call button, decided at the centre while the branch is online. A
    historical press (replayed from the edge's outbox or the device's buffer after an outage)
    is ignored: while the uplink was down the edge served it from its local queue (and its
    ``queue.ticket_*`` events reconcile that), so it is never served twice."""
    if u.historical:
        log.info("caller %s: historical %s ignored (served at the edge)", u.device_id, u.type)
        return "historical"
    if u.type == "caller.call_next":
        return counters.device_call_next(session, hall, u.branch_id, u.device_id, u.data, now)
    return counters.device_serving_done(session, hall, u.branch_id, u.device_id, u.data, now)


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


def _events(handler: HallHandler, *types: str) -> dict[str, HallHandler]:
    return {f"event:{t}": handler for t in types}


# Every device kind has an entry (an empty one says "the hall ignores this kind's uplinks"); a
# test fails when a kind of the wire protocol has none.
UPLINKS: dict[str, dict[str, HallHandler]] = {
    "edge": _events(_edge_queue, *reconcile.EDGE_QUEUE_EVENTS),
    "caller": {**_events(_caller, *CALLER_EVENTS), "state:*": _linked_state},
    "lock": {
        "event:lock.verification": _verification,
        "event:lock.unlocked": _unlocked,
        **_events(_vein_event, *veins.LOCK_EVENTS),
        "ack:*": _vein_ack,
        "state:*": _linked_state,
    },
    "cash": {**_events(_cash_event, *flow.CASH_EVENTS), "state:*": _linked_state},
    "camera": {"event:camera.face": _face, "state:*": _linked_state},
    "counter": {
        "event:counter.transaction": _smart,
        "config/reported:*": _config_reported,
        "state:*": _linked_state,
    },
    "display": {"state:*": _display_state},
    "kiosk": {"state:*": _linked_state},
}
