"""Draining the edge's outbox to the central broker, in order, as a window in flight.

With a centre that sends receipts (its host STATE says so), a row leaves the outbox when a
receipt names its envelope id: the ingest stored it, already had it, or refused it for good.
At most ``receipt_window`` rows are unreceipted at a time, which is end-to-end flow control:
the central broker's queue towards the ingest never overflows (an untuned Mosquitto drops what
exceeds 1,000 queued messages for a subscriber, and an edge that trusted the PUBACK had already
let those rows go). After every (re)birth (``rewind``), and when the oldest unreceipted row is
older than ``receipt_timeout_s``, sending resumes from the oldest unreceipted row, so what was
in flight when a link broke goes again first and the order holds; the centre drops the copies.

When the branch changes hands between the centre's hubs, the new owner asks for a rewind
(``ingest.rewind`` with a token, on the receipt topic): the next turn answers on the wire,
before any row, with ``edge.rewound`` (the token, on the edge's ``event`` channel, not through
the outbox) and resumes from the oldest unreceipted row. The hub stores nothing of the branch
until that answer, so what it stores follows the outbox's order (docs/hub.md).

Without receipts a row leaves on the broker's PUBACK (a sliding window of ``window`` messages).
Rows that waited (queued while the uplink was down, or older than ``historical_after_s``) are
marked ``historical`` on the wire.

The centre link (edge/centre.py) runs ``turn`` in the edge's ``forward`` thread; the receipts
arrive through ``on_receipt`` on the central client's dispatch thread.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict, deque

from backend.platform.mqtt import Delivery, Message, MqttClient, MqttError
from edge.link import UplinkStatus
from edge.outbox import Outbox
from edge.protocol import (
    ProtocolError,
    build_topic,
    canonical_json,
    decode_envelope,
    encode,
    make_envelope,
)
from edge.settings import EdgeSettings, EdgeStats
from edge.store import OutboxRow

RETAINED_CHANNELS = frozenset({"state", "config/reported"})
ACK_RESEND_S = 15.0  # PUBACK mode: resend from the oldest row after this long without one


class Forwarder:
    def __init__(
        self, settings: EdgeSettings, outbox: Outbox, status: UplinkStatus, stats: EdgeStats
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.store = outbox.store
        self.status = status
        self.stats = stats
        # guarded by outbox.changed: envelope id -> (row id, sent at), and a rewind owed
        self._unreceipted: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._rewind = False
        self._rewind_token: str | None = None  # a hub's ingest.rewind, answered by turn()
        # the forward thread's own: PUBACK mode's (row id, delivery, sent at), the last row
        # sent, on which client, in which mode
        self._inflight: deque[tuple[int, Delivery, float]] = deque()
        self._last_sent = 0
        self._sent_on: MqttClient | None = None
        self._mode: bool | None = None

    def rewind(self) -> None:
        """Resume from the oldest row the centre has not confirmed (after a birth): what was in
        flight when the link broke goes again first, so the order holds."""
        with self.outbox.changed:
            self._rewind = True
            self.outbox.changed.notify_all()

    def on_receipt(self, message: Message) -> None:
        """The centre stored (or deliberately dropped) these envelopes: they leave the outbox."""
        try:
            env = decode_envelope(message.payload, max_skew_s=None, max_bytes=4 * 1024 * 1024)
            if env.type == "ingest.rewind":
                token = env.data.get("token")
                if not isinstance(token, str) or not token:
                    raise ProtocolError("bad_receipt", "ingest.rewind needs a token")
                with self.outbox.changed:
                    self._rewind, self._rewind_token = True, token[:64]
                    self.outbox.changed.notify_all()
                return
            ids = env.data.get("ids")
            if not isinstance(ids, list):
                raise ProtocolError("bad_receipt", "ingest.receipt needs ids")
        except ProtocolError:
            self.stats.add("bad_receipts")
            return
        ids = [i for i in ids if isinstance(i, str)]
        deleted = self.store.delete_envelopes(ids)
        with self.outbox.changed:
            for envelope_id in ids:
                self._unreceipted.pop(envelope_id, None)
            self.outbox.changed.notify_all()
        self.stats.add("forwarded", deleted)

    def turn(self) -> None:
        """One turn of draining: commit what is due, send what the window allows, wait a bit."""
        central = self.status.client
        self.store.flush_if_due()  # the outbox's group commit
        receipts = self.status.receipts
        with self.outbox.changed:
            rewind, self._rewind = self._rewind, False
            token, self._rewind_token = self._rewind_token, None
        if rewind or receipts != self._mode or central is not self._sent_on:
            self._inflight.clear()
            with self.outbox.changed:
                self._unreceipted.clear()
            self._last_sent, self._mode = 0, receipts
        if token is not None and central is not None:
            self._rewound(central, token)
        if receipts:
            self._forward_receipted(central)
        else:
            self._forward_acked(central)
        self._sent_on = central

    def _rewound(self, central: MqttClient, token: str) -> None:
        """Tell the hub that asked: everything after this comes from the oldest unreceipted
        row (the same connection keeps the order)."""
        topic = build_topic(self.settings.branch_id, "edge", self.settings.edge_id, "event")
        env = make_envelope("edge.rewound", {"token": token}, 0)
        try:
            central.publish_nowait(topic, encode(env), 1, False)
        except MqttError:
            self.stats.add("rewound_not_sent")  # the hub stops waiting after a while

    def wire_payload(self, row: OutboxRow) -> bytes:
        historical = (
            row.historical or time.time() - row.enqueued_at > self.settings.historical_after_s
        )
        if not historical:
            return row.payload
        try:
            obj = json.loads(row.payload)
        except ValueError:
            return row.payload
        if not isinstance(obj, dict) or obj.get("historical") is True:
            return row.payload
        obj["historical"] = True
        return canonical_json(obj)

    def _publish_rows(self, central: MqttClient, limit: int) -> list[tuple[OutboxRow, Delivery]]:
        """Publish up to ``limit`` rows after the last one sent, until one fails."""
        published = []
        for row in self.store.peek(limit, after_id=self._last_sent):
            retain = row.channel in RETAINED_CHANNELS
            try:
                delivery = central.publish_nowait(row.topic, self.wire_payload(row), 1, retain)
            except MqttError:
                break
            published.append((row, delivery))
        return published

    def _forward_receipted(self, central: MqttClient | None) -> None:
        now = time.monotonic()
        changed = self.outbox.changed
        with changed:
            oldest = next(iter(self._unreceipted.values()), None)
            if oldest is not None and now - oldest[1] > self.settings.receipt_timeout_s:
                self.stats.add("forward_retries")  # go back to the oldest unreceipted row
                self._unreceipted.clear()
                self._last_sent = 0
            room = self.settings.receipt_window - len(self._unreceipted)
        if central is not None and self.status.live and room > 0:
            published = self._publish_rows(central, room)
            with changed:
                for row, _delivery in published:
                    self._unreceipted[row.envelope_id or f"row:{row.id}"] = (row.id, now)
            if published:
                self._last_sent = published[-1][0].id
                return
        with changed:
            changed.wait(0.05)

    def _forward_acked(self, central: MqttClient | None) -> None:
        inflight = self._inflight
        acked_to, acked = None, 0
        while inflight and inflight[0][1].is_published():
            acked_to = inflight.popleft()[0]
            acked += 1
        if acked_to is not None:
            self.store.delete_through(acked_to)
            self.stats.add("forwarded", acked)
        if inflight and time.monotonic() - inflight[0][2] > ACK_RESEND_S:
            self.stats.add("forward_retries")
            inflight.clear()
            self._last_sent = 0  # from the oldest row still in the outbox; the centre dedups
        window = self.settings.window
        if central is not None and self.status.live and len(inflight) < window:
            now = time.monotonic()
            for row, delivery in self._publish_rows(central, window - len(inflight)):
                inflight.append((row.id, delivery, now))
                self._last_sent = row.id
        if inflight:
            with contextlib.suppress(RuntimeError, ValueError):
                inflight[0][1].wait_for_publish(0.05)
        else:
            with self.outbox.changed:
                if self.store.pending == 0 or not self.status.live:
                    self.outbox.changed.wait(0.2)
