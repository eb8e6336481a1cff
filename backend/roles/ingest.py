"""The hub role's ingest: every branch's uplinks (``fe/v1/+/+/+/#``) into the database, once.

``handle`` runs on the MQTT client's dispatch thread and only parses (once: the hub reuses the
result, ``backend.devices.uplinks.parse_uplink``); one writer thread takes what accumulated (up
to ``batch_size``) and stores it in one transaction (``uplinks.store_batch``: duplicates
dropped, device views, twins, acks, alarm rules, the areas' uplink handlers). After the commit:
a receipt to each edge naming every envelope of the batch (stored now or before, or refused
for good), so its outbox may let them go; ``device.state`` and ``device.alarm`` to Socket.IO
(the branch's room and admins); acks to waiting commands; the ``on_committed`` hook (the
benchmark's clock). A sweep every few seconds raises and clears ``offline`` alarms.

With several hubs (``ownership``: backend/devices/leases.py's BranchLeases) only the branches
this hub holds a lease on are taken, the transaction stores only the items whose branch's
lease is still this hub's (``fence``), receipts name only what was kept (the edge sends the
rest again, to the branch's new owner) and the offline sweep covers only the owned branches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from backend.devices.uplinks import (
    OFFLINE_AFTER_S,
    STALE_AFTER_S,
    Inbound,
    Outcome,
    Rejected,
    parse_uplink,
    store_batch,
    sweep_offline,
)
from backend.platform.clock import utcnow
from backend.platform.db import run_in_transaction
from backend.platform.live import LiveEmitter
from backend.platform.mqtt import Message, MqttPublishError
from edge.protocol import DEFAULT_MAX_BYTES, DEFAULT_MAX_SKEW_S, RecentIds

log = logging.getLogger(__name__)

OPEN_COMMAND_STATUSES = ("pending", "sent", "timeout")
MAX_VERSION = 2**31 - 1  # devices.reported_version is an INTEGER (PostgreSQL: 32 bits)


class Ownership(Protocol):
    """Which branches this hub ingests (BranchLeases)."""

    def accepts(self, branch_id: str) -> bool: ...

    def owned(self) -> set[str]: ...

    def fence(self, session: Session, branch_ids: Collection[str]) -> set[str]: ...


@dataclass
class IngestSettings:
    batch_size: int = 1000
    queue_size: int = 200_000
    max_bytes: int = DEFAULT_MAX_BYTES
    max_skew_s: float = DEFAULT_MAX_SKEW_S
    offline_after_s: float = OFFLINE_AFTER_S
    stale_after_s: float = STALE_AFTER_S
    sweep_every_s: float = 5.0
    recent_ids: int = 200_000


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
        ownership: Ownership | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.live = live
        self.settings = settings or IngestSettings()
        self.clock = clock
        self.on_committed = on_committed
        self.on_ack = on_ack
        self.on_receipt = on_receipt
        self.branches = branches
        self.ownership = ownership
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

    def handle(self, message: Message) -> Inbound | None:
        """The MQTT handler: parse and validate, then queue for the writer. The parsed uplink
        is returned (None when it was not taken) so the hub acts on it without parsing again."""
        self.stats["received"] += 1
        parsed = parse_uplink(
            message.topic,
            message.payload,
            self.clock(),
            max_bytes=self.settings.max_bytes,
            max_skew_s=self.settings.max_skew_s,
        )
        if parsed is None:
            return None  # commands and desired configs going down
        topic = parsed.topic
        if topic is not None and not self._accepts(topic.branch_id):
            self.stats["other_branch"] += 1
            return None
        if isinstance(parsed, Rejected):
            self.stats[parsed.reason] += 1
            if parsed.refused and topic is not None and parsed.envelope_id:
                with self._dropped_lock:  # refused for good: the edge may forget it
                    self._dropped.append((topic.branch_id, parsed.envelope_id))
            return None
        self.submit(parsed)
        return parsed

    def _accepts(self, branch_id: str) -> bool:
        if self.branches is not None and branch_id not in self.branches:
            return False
        return self.ownership is None or self.ownership.accepts(branch_id)

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
                outcome, kept = run_in_transaction(
                    self.session_factory, lambda s: self._write(s, items)
                )
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
        self._after_commit(outcome, kept)

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

    def _after_commit(self, outcome: Outcome, items: list[Inbound]) -> None:
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

    def _write(self, session: Session, items: list[Inbound]) -> tuple[Outcome, list[Inbound]]:
        """Store the batch's items of the branches this hub still holds; (outcome, kept)."""
        if self.ownership is not None:
            held = self.ownership.fence(session, {item.topic.branch_id for item in items})
            kept = [item for item in items if item.topic.branch_id in held]
            if len(kept) < len(items):
                self.stats["fenced_out"] += len(items) - len(kept)
            items = kept
        outcome = store_batch(session, items, self.clock(), recent=self._recent, stats=self.stats)
        return outcome, items

    # ------------------------------------------------------------------ offline sweep

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Raise or clear ``offline`` alarms of active devices; emits the changes."""
        now = now or self.clock()
        outcome = run_in_transaction(
            self.session_factory,
            lambda s: sweep_offline(
                s,
                now,
                branches=self.ownership.owned() if self.ownership is not None else self.branches,
                offline_after_s=self.settings.offline_after_s,
                stale_after_s=self.settings.stale_after_s,
            ),
        )
        for event, data, rooms in outcome.live:
            self.live.emit(event, data, rooms=rooms)
        return {"alarm_changes": len(outcome.live)}
