"""The hall's calls at the edge: kiosk tickets, call-next presses, and the screens that show them.

The edge acts on two event types of the hall's devices (``HANDLERS``, by event type; which kinds
send them is the wire's kind table, edge/protocol/kinds.py, and tests/unit/test_device_kinds.py
checks that those kinds accept what the edge answers with): a kiosk's
``kiosk.ticket_requested`` is answered from the local queue (edge/localqueue) with
``kiosk.print_ticket``, whether the centre is there or not; a window's ``caller.call_next`` is
the centre's while the uplink is live, and the local queue's otherwise. A call made here is
shown on the caller (``caller.show_call``) and on every hall screen (``display.show`` to the
kinds marked ``screen``); every change of the local queue is emitted (``queue.*``) so that the
centre catches up after an outage.

Call-next, online first. A press (``caller.call_next {request_id, counter_id}``) that goes into
the outbox while the uplink is live, is not historical and names a request id is the centre's:
the edge forwards it and does not call. The centre calls from the whole hall queue and answers
with ``caller.show_call {..., request_id}`` (relayed by edge/downlinks.py, which hands it to
``call_answered``). When ``call_answer_timeout_s`` has passed, the press is settled (its
``outcome``):

- ``answered``: the centre's answer passed through the edge meanwhile; nothing here;
- ``unanswered_online``: no answer, but the uplink is live (again, or still): nothing (the
  centre has it or declined it; a press sent again after a short break is still live and the
  centre answers it);
- ``delivered``: no answer, the uplink is down, but the press left the outbox (the centre's
  receipt, or the broker's PUBACK for a centre without receipts): the centre has it; nothing;
- ``local_fallback``: no answer, the uplink is down and the press is still in the outbox (the
  centre never confirmed it): the row is marked historical and the edge calls locally; the
  centre ignores a historical call_next, so the replay after the outage serves nobody again.

Every other press (uplink down, historical, no request id) is served locally at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.link import UplinkStatus
from edge.local_commands import LocalCommands
from edge.localqueue import LocalQueue, check_category
from edge.own_messages import OwnMessages
from edge.protocol import Envelope, ProtocolError, Topic
from edge.registry import DeviceRegistry
from edge.settings import EdgeSettings, EdgeStats
from edge.store import EdgeStore

log = logging.getLogger(__name__)

TICKET_REQUESTED = "kiosk.ticket_requested"
CALL_NEXT = "caller.call_next"
PRINT_TICKET = "kiosk.print_ticket"
SHOW_CALL = "caller.show_call"
SHOW_ON_SCREEN = "display.show"
OUTCOMES_KEPT = 1000


@dataclass
class PendingCall:
    """A call-next forwarded to the centre, waiting for its answer."""

    caller_id: str
    data: dict[str, Any]
    envelope_id: str
    deadline: float
    answered: bool = False


def check_ticket_request(env: Envelope) -> None:
    """A kiosk request's category (the local queue refuses an unknown one)."""
    try:
        check_category(env.data.get("category"))
    except ValueError as exc:
        raise ProtocolError("bad_data", str(exc)) from None


# Event type -> a check of its data, before the edge accepts the uplink (a failure drops it
# as a bad payload).
CHECKS: dict[str, Callable[[Envelope], None]] = {TICKET_REQUESTED: check_ticket_request}


class OfflineHall:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        queue: LocalQueue,
        registry: DeviceRegistry,
        commands: LocalCommands,
        messages: OwnMessages,
        status: UplinkStatus,
        store: EdgeStore,
        clock: Callable[[], datetime],
        stats: EdgeStats,
    ) -> None:
        self.settings = settings
        self.edge_id = settings.edge_id
        self.queue = queue
        self.registry = registry
        self.commands = commands
        self.messages = messages
        self.status = status
        self.store = store
        self.clock = clock
        self.stats = stats
        # call-nexts left to the centre: (caller id, request id) -> the press
        self._pending: dict[tuple[str, str], PendingCall] = {}
        self._outcomes: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cond = threading.Condition()

    # ------------------------------------------------------------------ uplinks

    def check(self, topic: Topic, env: Envelope) -> None:
        """ProtocolError when an event the edge acts on carries data it cannot act on."""
        check = CHECKS.get(env.type) if topic.channel == "event" else None
        if check is not None:
            check(env)

    def on_uplink(self, topic: Topic, env: Envelope, live: bool) -> None:
        """An accepted uplink (already in the outbox; ``live``: it went up live)."""
        handler = HANDLERS.get(env.type) if topic.channel == "event" else None
        if handler is not None:
            handler(self, topic.device_id, env, live)

    def _ticket_requested(self, kiosk_id: str, env: Envelope, _live: bool) -> None:
        self.issue_ticket(kiosk_id, env.data)

    def _call_next_pressed(self, caller_id: str, env: Envelope, live: bool) -> None:
        request_id = env.data.get("request_id")
        if live and not env.historical and isinstance(request_id, str) and request_id:
            self._leave_call_to_centre(caller_id, request_id, env)
        else:
            self.call_next(caller_id, env.data)

    # ------------------------------------------------------------------ the local queue

    def issue_ticket(self, kiosk_id: str, data: dict[str, Any]) -> None:
        service, request_id = data.get("service"), data.get("request_id")
        try:
            ticket, created = self.queue.issue(
                str(service),
                self.clock(),
                request_id=str(request_id),
                kiosk_id=kiosk_id,
                category=data.get("category"),
            )
        except ValueError:
            self.stats.add("queue_refused")
            return
        if created:
            self.messages.emit("queue.ticket_issued", ticket.to_dict())
        self.commands.send(
            kiosk_id,
            PRINT_TICKET,
            {
                "request_id": request_id,
                "ticket_no": ticket.ticket_no,
                "service": ticket.service,
                "position": ticket.position,
                "estimated_wait_s": ticket.estimated_wait_s,
            },
        )

    def call_next(self, caller_id: str, data: dict[str, Any]) -> None:
        counter_id = self.queue.counter_for(caller_id, data.get("counter_id"))
        called, done = self.queue.call_next(counter_id, self.clock())
        if done is not None:
            self.messages.emit("queue.ticket_done", done.to_dict())
        request_id = data.get("request_id")
        if called is not None:
            self.messages.emit("queue.ticket_called", {**called.to_dict(), "caller_id": caller_id})
        ticket_no = called.ticket_no if called else None
        args: dict[str, Any] = {"ticket_no": ticket_no, "counter_id": counter_id}
        if isinstance(request_id, str):
            args["request_id"] = request_id
        self.commands.send(caller_id, SHOW_CALL, args)
        if called is not None:
            for screen in self.registry.screens():
                self.commands.send(
                    screen.device_id,
                    SHOW_ON_SCREEN,
                    {"ticket_no": called.ticket_no, "counter_id": counter_id},
                )

    # ------------------------------------------------------------------ call-next: online first

    def _leave_call_to_centre(self, caller_id: str, request_id: str, env: Envelope) -> None:
        deadline = time.monotonic() + self.settings.call_answer_timeout_s
        with self._cond:
            self._pending[(caller_id, request_id)] = PendingCall(
                caller_id, dict(env.data), env.id, deadline
            )
            self._cond.notify_all()
        self.stats.add("calls_to_centre")

    def call_answered(self, device_id: str, command: object) -> None:
        """A command from the centre relayed to ``device_id`` (a caller): if it is a
        ``caller.show_call``, the answer to the press it names (``request_id``), if pending."""
        if not isinstance(command, dict) or command.get("type") != SHOW_CALL:
            return
        data = command.get("data")
        request_id = data.get("request_id") if isinstance(data, dict) else None
        if not isinstance(request_id, str):
            return
        with self._cond:
            pending = self._pending.get((device_id, request_id))
            if pending is None or pending.answered:
                return
            pending.answered = True
        self.stats.add("calls_answered_by_centre")

    def outcome(self, caller_id: str, request_id: str) -> str | None:
        """How a press left to the centre was settled once its time was up (the module
        docstring); None while it waits, or for a press the edge never left to the centre."""
        with self._cond:
            return self._outcomes.get((caller_id, request_id))

    def run(self, stop: threading.Event) -> None:
        """Settle each press when its time is up (the edge's ``calls`` thread)."""
        while not stop.is_set():
            now = time.monotonic()
            with self._cond:
                due = [k for k, p in self._pending.items() if p.deadline <= now]
                expired = [(k, self._pending.pop(k)) for k in due]
                if not expired:
                    soonest = min((p.deadline for p in self._pending.values()), default=None)
                    wait = 0.5 if soonest is None else max(0.01, min(0.5, soonest - now))
                    self._cond.wait(wait)
                    continue
            for key, pending in expired:
                try:
                    self._record(key, self._settle(pending))
                except Exception:
                    self.stats.add("errors")
                    log.exception("edge %s: unanswered call-next not settled", self.edge_id)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _settle(self, pending: PendingCall) -> str:
        """A press whose time is up (the rule of the module docstring); its outcome."""
        request_id = pending.data.get("request_id")
        if pending.answered:
            return "answered"
        if self.status.live:
            self.stats.add("calls_unanswered_online")
            log.info(
                "edge %s: no answer from the centre to call-next %s of %s (uplink live)",
                self.edge_id,
                request_id,
                pending.caller_id,
            )
            return "unanswered_online"
        if not self.store.mark_envelope_historical(pending.envelope_id):
            self.stats.add("calls_unanswered_delivered")
            log.info(
                "edge %s: call-next %s of %s left the outbox but was not answered",
                self.edge_id,
                request_id,
                pending.caller_id,
            )
            return "delivered"
        self.stats.add("calls_local_fallback")
        log.warning(
            "edge %s: uplink down, call-next %s of %s unanswered: calling locally",
            self.edge_id,
            request_id,
            pending.caller_id,
        )
        self.call_next(pending.caller_id, pending.data)
        return "local_fallback"

    def _record(self, key: tuple[str, str], outcome: str) -> None:
        with self._cond:
            self._outcomes[key] = outcome
            while len(self._outcomes) > OUTCOMES_KEPT:
                self._outcomes.popitem(last=False)


# Event type -> what the edge does with it (the hall, device id, envelope, went up live).
HANDLERS: dict[str, Callable[[OfflineHall, str, Envelope, bool], None]] = {
    TICKET_REQUESTED: OfflineHall._ticket_requested,
    CALL_NEXT: OfflineHall._call_next_pressed,
}
