"""What a hub tells the edges of the branches it serves: each branch's registry and its
devices' desired configurations (retained), the hall's counter map with the branch's timezone
(retained), and ``queue.sync`` of the tickets the edge issued. ``BranchPublisher.refresh`` is
incremental: one query of the branch change journal (backend/platform/changes.py) says which
branches changed since the last pass, and only those are read again; the whole pass runs after
a (re)connect (``resync``), and a paged repair pass goes over each branch every
``queue_sync_full_s``. The hub (backend/roles/hub.py) owns one and hands it its transport.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.devices import service
from backend.devices.models import Device
from backend.devices.secretbox import SecretBox
from backend.platform import changes
from backend.platform.clock import utcnow
from backend.platform.mqtt import MqttError
from backend.platform.ports import HallForDevices
from backend.platform.wiring import port
from edge.protocol import build_topic, default_edge_id, encode, format_ts, make_envelope

log = logging.getLogger("backend.roles.hub")

QUEUE_SYNC_PAGE = 200  # tickets per queue.sync message (about 30 KB, under the 64 KiB limit)


class BranchPublisher:
    """The hub's downlinks of registries, configs, counter maps and queue syncs, with what was
    last published of each (so only changes go out)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        box: SecretBox,
        settings: Any,
        publish: Callable[..., None],
        wanted: Callable[[str], bool],
        serving: Callable[[], set[str] | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.session_factory = session_factory
        self.box = box
        self.settings = settings
        self.publish = publish
        self._wanted = wanted
        self._serving = serving
        self._clock = clock
        self._published_registry: dict[str, int] = {}
        self._published_desired: dict[int, int] = {}
        self._published_counters: dict[str, int] = {}
        # queue.sync: per branch what its edge was last sent (key -> entry), when the whole
        # picture last went, and the branches whose edge was (re)born since
        self._sync_sent: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._sync_full_at: dict[str, float] = {}
        self._sync_resync: set[str] = set()
        # what the refresh loop owes: everything (a reconnect), or only the queue.sync of
        # branches whose queue changed (so a busy hall does not re-read every registry)
        self._full_due = True
        self._queue_dirty: set[str] = set()
        # the incremental refresh (``_plan``): the journal's sequence acted on per (branch,
        # topic), the branches served (with devices), when each was last wholly refreshed (the
        # repair pass), newly wanted branches already looked at, the device pks of each
        # branch's published desired configs, when the last pass began (wall clock, for the
        # journal) and when the whole journal is read again (monotonic)
        self._seen: dict[tuple[str, str], int] = {}
        self._served: set[str] = set()
        self._refreshed_at: dict[str, float] = {}
        self._considered: set[str] = set()
        self._desired_of: dict[str, set[int]] = {}
        self._checked_at: datetime | None = None
        self._recheck_at = 0.0
        self.edge_ids: dict[str, str] = {}
        self.lock = threading.Lock()

    def resync(self) -> None:
        """Publish everything again (the whole pass), as after a reconnect."""
        with self.lock:
            self._published_registry.clear()
            self._published_desired.clear()
            self._published_counters.clear()
            self._sync_sent.clear()
            self._desired_of.clear()
            self._full_due = True

    def owe_whole_pass(self) -> None:
        """The next refresh goes over every branch, keeping what was published (so it sends
        only what differs): the old periodic pass, which ``finedge bench hub-refresh`` times."""
        with self.lock:
            self._full_due = True

    def queue_changed(self, branch_id: str) -> None:
        with self.lock:
            self._queue_dirty.add(branch_id)

    def edge_reborn(self, branch_id: str) -> None:
        """The edge was (re)born: the whole queue.sync picture next time."""
        with self.lock:
            self._sync_resync.add(branch_id)
            self._queue_dirty.add(branch_id)

    def forget(self, branch_id: str) -> None:
        """A branch taken up or given away: all that was published of it is forgotten."""
        with self.lock:
            self._sync_resync.discard(branch_id)
            self._forget(branch_id)

    def edge_id(self, session: Session, branch_id: str) -> str:
        edge_id = session.scalar(
            select(Device.device_id).where(
                Device.branch_id == branch_id, Device.device_type == "edge"
            )
        ) or default_edge_id(branch_id)
        self.edge_ids[branch_id] = edge_id
        return edge_id

    def refresh(self) -> dict[str, int]:
        """Publish what changed since the last publish (registries, desired configs, counter
        maps, queue syncs) and say how many messages went.

        After a (re)connect: every branch with devices (the whole pass). Otherwise only the
        branches that ``_plan`` names: those the change journal (backend/platform/changes.py)
        shows bumped since the last pass, those whose queue changed in this process, newly
        served ones and a page of the repair pass. An idle pass is one query."""
        published = dict.fromkeys(("registries", "desired", "counters", "queue_sync"), 0)
        with self.lock:
            full = self._full_due
            self._full_due = False
            dirty, self._queue_dirty = self._queue_dirty, set()
        with self.session_factory() as session:
            started = utcnow()
            try:
                work, marks = self._plan(session, full, dirty)
                desired: dict[str, list[Device]] | None = None
                if full:  # every branch's desired configs in one query, not one a branch
                    desired = {b: [] for b in work}
                    for device in service.desired_configs(session, None):
                        if device.branch_id in desired:
                            desired[device.branch_id].append(device)
                for branch_id, topics in sorted(work.items()):
                    known = None if desired is None else desired[branch_id]
                    counts = self._refresh_branch(session, branch_id, topics, known)
                    for key, count in counts.items():
                        published[key] += count
                    with self.lock:
                        for topic in topics:
                            if (branch_id, topic) in marks:
                                self._seen[(branch_id, topic)] = marks[(branch_id, topic)]
                        if topics >= set(changes.TOPICS):
                            self._refreshed_at[branch_id] = time.monotonic()
            except BaseException:
                with self.lock:  # what was owed is owed again
                    self._full_due = self._full_due or full
                    self._queue_dirty |= dirty
                raise
            self._checked_at = started
        return published

    def _plan(
        self, session: Session, full: bool, dirty: set[str]
    ) -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
        """Which branches to re-read, and which topics of each (``devices``: registry and
        desired configs; ``hall``: counter map and queue sync); with the journal's sequences
        read *before* them, so a change committed while they are read is read again."""
        now = time.monotonic()
        work: dict[str, set[str]] = {}
        whole = set(changes.TOPICS)
        if full:
            marks = changes.all_marks(session)
            served = [b for b in service.branches_with_devices(session) if self._wanted(b)]
            with self.lock:
                self._served = set(served)
                self._seen.clear()
            self._recheck_at = now + self.settings.recheck_s
            return {b: set(whole) for b in served}, {(m.branch_id, m.topic): m.seq for m in marks}
        if self._checked_at is None or now >= self._recheck_at:
            marks = changes.all_marks(session)
            self._recheck_at = now + self.settings.recheck_s
        else:
            since = self._checked_at - timedelta(seconds=self.settings.change_grace_s)
            marks = changes.changed_since(session, since)
        with self.lock:
            for branch_id in [b for b in self._served if not self._wanted(b)]:
                self._forget(branch_id)  # no longer ours (another hub serves it)
            for mark in marks:
                if not self._wanted(mark.branch_id):
                    continue
                if self._seen.get((mark.branch_id, mark.topic)) == mark.seq:
                    continue
                if mark.branch_id not in self._served:
                    if mark.topic != "devices":
                        continue  # a hall without devices: no edge to tell
                    self._served.add(mark.branch_id)  # its first device
                    work[mark.branch_id] = set(whole)
                work.setdefault(mark.branch_id, set()).add(mark.topic)
            for branch_id in dirty:
                if branch_id in self._served and self._wanted(branch_id):
                    work.setdefault(branch_id, set()).add("hall")
            wanted = self._serving()
            fresh = set() if wanted is None else wanted - self._served - self._considered
            # the repair pass: each branch wholly again every queue_sync_full_s, a page at a
            # time (a lost queue.sync, a change made behind the journal's back)
            due = sorted(
                (at, b)
                for b, at in self._refreshed_at.items()
                if now - at >= self.settings.queue_sync_full_s and b not in work
            )
        for _at, branch_id in due[: self.settings.repair_page]:
            work[branch_id] = set(whole)
        for branch_id in sorted(fresh):  # newly ours (a lease taken): once, if it has devices
            with self.lock:
                self._considered.add(branch_id)
            if service.branch_has_devices(session, branch_id):
                with self.lock:
                    self._served.add(branch_id)
                work[branch_id] = set(whole)
        return work, {(m.branch_id, m.topic): m.seq for m in marks}

    def _forget(self, branch_id: str) -> None:
        """A branch this hub no longer serves: all it knew of it (callers hold the lock)."""
        self._served.discard(branch_id)
        self._considered.discard(branch_id)
        self._refreshed_at.pop(branch_id, None)
        self._published_registry.pop(branch_id, None)
        self._published_counters.pop(branch_id, None)
        self._sync_sent.pop(branch_id, None)
        self._sync_full_at.pop(branch_id, None)
        for key in [k for k in self._seen if k[0] == branch_id]:
            del self._seen[key]
        for pk in self._desired_of.pop(branch_id, set()):
            self._published_desired.pop(pk, None)

    def _refresh_branch(
        self,
        session: Session,
        branch_id: str,
        topics: set[str],
        desired: list[Device] | None = None,
    ) -> dict[str, int]:
        """Publish what changed of ``topics`` of the branch (``desired``: its devices with a
        desired config, when the caller read them already)."""
        counts: dict[str, int] = {}
        if "devices" in topics:
            self.edge_id(session, branch_id)  # the edge may have been registered since
            counts["registries"] = self._publish_registry(session, branch_id)
            counts["desired"] = self._publish_desired(session, branch_id, desired)
        if "hall" in topics:
            counts["counters"] = self.publish_counter_map(session, branch_id)
            counts["queue_sync"] = self.publish_queue_sync(session, branch_id)
        return counts

    def _publish_registry(self, session: Session, branch_id: str) -> int:
        """The branch's registry, retained, when its version differs from the one published."""
        version = service.registry_version(session, branch_id)
        with self.lock:
            if self._published_registry.get(branch_id) == version:
                return 0
        registry = service.branch_registry(session, self.box, branch_id)
        edge_id = self.edge_ids.get(branch_id) or self.edge_id(session, branch_id)
        self.publish(
            build_topic(branch_id, "edge", edge_id, "config/desired"),
            encode(make_envelope("edge.registry", registry, 0)),
            retain=True,
        )
        with self.lock:
            self._published_registry[branch_id] = registry["version"]
        return 1

    def _publish_desired(
        self, session: Session, branch_id: str, devices: list[Device] | None = None
    ) -> int:
        """Each device's desired configuration, retained, when its version was not published."""
        sent = 0
        if devices is None:
            devices = service.desired_configs(session, branch_id)
        for device in devices:
            with self.lock:
                if self._published_desired.get(device.id) == device.desired_version:
                    continue
            data = {"version": device.desired_version, "config": device.desired}
            self.publish(
                build_topic(
                    device.branch_id, device.device_type, device.device_id, "config/desired"
                ),
                encode(make_envelope("config.desired", data, device.desired_version)),
                retain=True,
            )
            with self.lock:
                self._published_desired[device.id] = device.desired_version
                self._desired_of.setdefault(branch_id, set()).add(device.id)
            sent += 1
        return sent

    def publish_counter_map(self, session: Session, branch_id: str) -> int:
        """The branch's counter map with its timezone, retained, when it differs from the one
        last published. Its version is a fingerprint of the content (equal maps, equal
        versions)."""
        try:
            hall = port(session, HallForDevices)
            counters = hall.counter_map(session, branch_id)
            timezone = hall.timezone(session, branch_id) if counters is not None else None
        except Exception:  # the hall's failure must not stop registries and configs
            log.exception("device hub: counter map of %s not built", branch_id)
            session.rollback()
            return 0
        if counters is None:
            return 0
        content: dict[str, Any] = {"counters": counters}
        if timezone is not None:
            content["timezone"] = timezone
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        version = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:6], "big")
        with self.lock:
            if self._published_counters.get(branch_id) == version:
                return 0
        edge_id = self.edge_ids.get(branch_id) or self.edge_id(session, branch_id)
        self.publish(
            build_topic(branch_id, "edge", edge_id, "config/counters"),
            encode(make_envelope("edge.counters", {"version": version, **content}, 0)),
            retain=True,
        )
        with self.lock:
            self._published_counters[branch_id] = version
        return 1

    def refresh_queue_sync(self, branch_ids: set[str]) -> int:
        """Only the queue.sync of these branches (their queue changed); the messages sent."""
        with self.session_factory() as session:
            return sum(
                self.publish_queue_sync(session, b) for b in sorted(branch_ids) if self._wanted(b)
            )

    def publish_queue_sync(self, session: Session, branch_id: str) -> int:
        """``queue.sync`` to the branch's edge: the tickets whose centre state changed since
        the edge was last sent them, or every one (in pages of QUEUE_SYNC_PAGE) the first time,
        after the edge's birth and every ``queue_sync_full_s``. Not retained: the picture may
        need several messages, and a fresh edge asks for it by being born. The messages sent."""
        edge_id = self.edge_ids.get(branch_id) or self.edge_id(session, branch_id)
        now = self._clock()
        try:
            tickets = port(session, HallForDevices).edge_tickets(session, branch_id, edge_id, now)
        except Exception:  # the hall's failure must not stop registries and configs
            log.exception("device hub: queue sync of %s not built", branch_id)
            session.rollback()
            return 0
        if tickets is None:
            return 0
        current = {(str(t["ticket_no"]), str(t["issued_at"])): t for t in tickets}
        with self.lock:
            sent = self._sync_sent.get(branch_id)
            full = (
                sent is None
                or branch_id in self._sync_resync
                or time.monotonic() - self._sync_full_at.get(branch_id, 0.0)
                >= self.settings.queue_sync_full_s
            )
            self._sync_resync.discard(branch_id)
        if full:
            entries = list(current.values())
        else:
            entries = [t for key, t in current.items() if (sent or {}).get(key) != t]
        messages = 0
        if entries:
            topic = build_topic(branch_id, "edge", edge_id, "queue/sync")
            pages = [
                entries[i : i + QUEUE_SYNC_PAGE] for i in range(0, len(entries), QUEUE_SYNC_PAGE)
            ]
            try:
                for number, page in enumerate(pages, 1):
                    data = {
                        "at": format_ts(now),
                        "full": full,
                        "part": number,
                        "parts": len(pages),
                        "tickets": page,
                    }
                    self.publish(topic, encode(make_envelope("queue.sync", data, 0)))
                    messages += 1
            except MqttError:
                if full:  # the whole picture again next time
                    with self.lock:
                        self._sync_resync.add(branch_id)
                raise
        with self.lock:
            self._sync_sent[branch_id] = current
            if full:
                self._sync_full_at[branch_id] = time.monotonic()
        return messages
