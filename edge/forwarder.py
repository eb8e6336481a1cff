"""Draining the edge's outbox to the central broker (mixed into EdgeAgent).

With a centre that sends receipts (its host STATE says so), a row leaves the outbox when a
receipt names its envelope id: the ingest stored it, already had it, or refused it for good.
At most ``receipt_window`` rows are unreceipted at a time, which is end-to-end flow control:
the central broker's queue towards the ingest never overflows (an untuned Mosquitto drops what
exceeds 1,000 queued messages for a subscriber, and an edge that trusted the PUBACK had already
let those rows go). After every (re)birth, and when the oldest unreceipted row is older than
``receipt_timeout_s``, sending resumes from the oldest unreceipted row, so what was in flight
when a link broke goes again first and the order holds; the centre drops the copies.

Without receipts a row leaves on the broker's PUBACK (a sliding window of ``window`` messages).
Rows that waited (queued while the uplink was down, or older than ``historical_after_s``) are
marked ``historical`` on the wire.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from backend.platform.mqtt import Message, MqttError
from edge.protocol import ProtocolError, canonical_json, decode_envelope
from edge.store import OutboxRow
from edge.transport import PipelinedMqttClient

if TYPE_CHECKING:
    from edge.agent import EdgeAgent

RETAINED_CHANNELS = frozenset({"state", "config/reported"})


class ForwardingMixin:
    def _wire_payload(self: EdgeAgent, row: OutboxRow) -> bytes:
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

    def _on_receipt(self: EdgeAgent, message: Message) -> None:
        """The centre stored (or deliberately dropped) these envelopes: they leave the outbox."""
        try:
            env = decode_envelope(message.payload, max_skew_s=None, max_bytes=4 * 1024 * 1024)
            ids = env.data.get("ids")
            if not isinstance(ids, list):
                raise ProtocolError("bad_receipt", "ingest.receipt needs ids")
        except ProtocolError:
            self.stats.add("bad_receipts")
            return
        ids = [i for i in ids if isinstance(i, str)]
        deleted = self.store.delete_envelopes(ids) if self._store is not None else 0
        with self._cond:
            for envelope_id in ids:
                self._unreceipted.pop(envelope_id, None)
            self._cond.notify_all()
        self.stats.add("forwarded", deleted)

    def _forward_loop(self: EdgeAgent) -> None:
        """Drain the outbox in order, as a window of messages in flight.

        With a centre that sends receipts (its STATE says so) a row leaves the outbox when the
        receipt names it, and at most ``receipt_window`` rows are unreceipted at a time: end to
        end flow control, so the central broker's queue towards the ingest never overflows, and
        a message the broker lost anyway is sent again (from the oldest unreceipted row) after
        ``receipt_timeout_s``. Without receipts a row leaves on the broker's PUBACK.
        """
        inflight: deque[tuple[int, Any, float]] = deque()  # PUBACK mode: (row id, info, sent)
        last_sent = 0
        sent_on: PipelinedMqttClient | None = None
        mode: bool | None = None
        while not self._stop.is_set():
            central = self._central
            if central is not None and central.connected and self._host_online and not self._born:
                self._birth()  # a birth that could not be published yet
            self.store.flush_if_due()  # the outbox's group commit
            receipts = self._receipts
            with self._cond:
                rewind, self._rewind = self._rewind, False
            if rewind or receipts != mode or central is not sent_on:
                inflight.clear()
                with self._cond:
                    self._unreceipted.clear()
                last_sent, mode = 0, receipts
            if receipts:
                last_sent = self._forward_receipted(central, last_sent)
            else:
                last_sent = self._forward_acked(central, inflight, last_sent)
            sent_on = central

    def _publish_rows(self: EdgeAgent, central: PipelinedMqttClient, limit: int, after_id: int):
        """Publish up to ``limit`` rows after ``after_id``: [(row, info)] until one fails."""
        published = []
        for row in self.store.peek(limit, after_id=after_id):
            retain = row.channel in RETAINED_CHANNELS
            try:
                info = central.publish_nowait(row.topic, self._wire_payload(row), 1, retain)
            except MqttError:
                break
            published.append((row, info))
        return published

    def _forward_receipted(
        self: EdgeAgent, central: PipelinedMqttClient | None, last_sent: int
    ) -> int:
        now = time.monotonic()
        with self._cond:
            oldest = next(iter(self._unreceipted.values()), None)
            if oldest is not None and now - oldest[1] > self.settings.receipt_timeout_s:
                self.stats.add("forward_retries")  # go back to the oldest unreceipted row
                self._unreceipted.clear()
                last_sent = 0
            room = self.settings.receipt_window - len(self._unreceipted)
        if central is not None and self.uplink_live and room > 0:
            published = self._publish_rows(central, room, last_sent)
            with self._cond:
                for row, _info in published:
                    self._unreceipted[row.envelope_id or f"row:{row.id}"] = (row.id, now)
            if published:
                last_sent = published[-1][0].id
                return last_sent
        with self._cond:
            self._cond.wait(0.05)
        return last_sent

    def _forward_acked(
        self: EdgeAgent, central: PipelinedMqttClient | None, inflight: deque, last_sent: int
    ) -> int:
        acked_to, acked = None, 0
        while inflight and inflight[0][1].is_published():
            acked_to = inflight.popleft()[0]
            acked += 1
        if acked_to is not None:
            self.store.delete_through(acked_to)
            self.stats.add("forwarded", acked)
        if inflight and time.monotonic() - inflight[0][2] > 15.0:
            self.stats.add("forward_retries")
            inflight.clear()
            last_sent = 0  # from the oldest row still in the outbox; the centre dedups
        window = self.settings.window
        if central is not None and self.uplink_live and len(inflight) < window:
            now = time.monotonic()
            for row, info in self._publish_rows(central, window - len(inflight), last_sent):
                inflight.append((row.id, info, now))
                last_sent = row.id
        if inflight:
            with contextlib.suppress(RuntimeError, ValueError):
                inflight[0][1].wait_for_publish(0.05)
        else:
            with self._cond:
                if self.store.pending == 0 or not self.uplink_live:
                    self._cond.wait(0.2)
        return last_sent
