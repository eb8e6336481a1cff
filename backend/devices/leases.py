"""Branch leases: any number of hubs share the branches, each branch ingested by one hub at a time.

Two tables (backend/devices/models.py): ``hub_members`` (each running hub's heartbeat) and
``hub_leases`` (branch -> hub, ``expires_at``, ``epoch``). Every ``every_s`` each hub, in its
lease thread (``step``):

1. heartbeats; renews every lease it holds (``expires_at = now + ttl_s``) and finds those it
   lost (taken by another hub after it stalled past the TTL): it stops ingesting them;
2. counts the live hubs (a heartbeat within ``ttl_s``) and the branches to share (every
   branch of the bank, so an edge's birth has a hub before any device is added, and every
   branch with devices; within the static ``branches`` filter if any); its fair share is
   ``ceil(branches / live hubs)``;
3. lets go of branches beyond its share (the highest ids first) or no longer to share, and
   takes free or expired leases up to its share (each an atomic conditional UPDATE or INSERT,
   the ``epoch`` one higher at every change of hands).

So a joining hub gets branches at the next passes of the others (they shed their excess), a
stopping hub releases its leases at once (``stop``), and a dead hub's leases expire after
``ttl_s``: the others take them within ``ttl_s + every_s`` (8 + 2 s by default).

Fencing: a hub that stalled past its TTL (a long GC or VM pause, a partition from the
database) may still hold messages of a branch that another hub took since. ``fence`` runs inside
the ingest's transaction and keeps only the branches whose lease row still names this hub with
the epoch it acquired and is unexpired; on PostgreSQL it reads the rows ``FOR SHARE``, so a
taker's UPDATE waits for that transaction's commit, and the old owner's later transactions see
the new epoch: one branch's commits never interleave between two hubs. On SQLite every write
transaction holds the database's write lock (``BEGIN IMMEDIATE``). What a fenced-out hub did not
store gets no receipt, so the edge sends it again, to the new owner.

The owner's callbacks: ``on_acquired(branch)`` (subscribe the branch's topics, publish its
registry), ``on_releasing(branch)`` (stop taking its messages, unsubscribe, write what is
queued; the lease is still held meanwhile), ``on_lost(branch)`` (the lease is gone already).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from backend.devices.models import HubLease, HubMember
from backend.devices.registry import branches_with_devices
from backend.identity.models import Branch
from backend.platform.clock import utcnow
from backend.platform.db import run_in_transaction

log = logging.getLogger(__name__)


def default_hub_id() -> str:
    """Unique per process: host, pid and a random suffix (a restarted hub is a new member)."""
    host = socket.gethostname().split(".")[0][:40] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class LeaseSettings:
    hub_id: str = ""
    ttl_s: float = 8.0
    every_s: float = 2.0
    branches: Collection[str] | None = None  # a static filter: None, every branch


class BranchLeases:
    """One hub's leases (see the module). Thread-safe: the lease thread changes them, the
    MQTT and ingest threads read them."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: LeaseSettings | None = None,
        *,
        on_acquired: Callable[[str], None] = lambda _b: None,
        on_releasing: Callable[[str], None] = lambda _b: None,
        on_lost: Callable[[str], None] = lambda _b: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings or LeaseSettings()
        if not self.settings.hub_id:
            self.settings.hub_id = default_hub_id()
        self.hub_id = self.settings.hub_id
        self.on_acquired = on_acquired
        self.on_releasing = on_releasing
        self.on_lost = on_lost
        self.clock = clock
        self._lock = threading.Lock()
        self._owned: dict[str, int] = {}  # branch -> epoch held (fencing)
        self._accepting: set[str] = set()  # owned and not being released
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_ok: float | None = None  # monotonic time of the last successful pass
        self.live_hubs = 0
        self.share = 0
        self.started_at = clock()

    # ------------------------------------------------------------------ reads (any thread)

    def accepts(self, branch_id: str) -> bool:
        """Whether this hub takes the branch's messages now."""
        return branch_id in self._accepting

    def owned(self) -> set[str]:
        with self._lock:
            return set(self._accepting)

    @property
    def alive(self) -> bool:
        """The lease loop ran successfully within the TTL (the readiness probe)."""
        return self.last_ok is not None and time.monotonic() - self.last_ok < self.settings.ttl_s

    def fence(self, session: Session, branch_ids: Collection[str]) -> set[str]:
        """Inside the caller's transaction: the branches among ``branch_ids`` whose lease this
        hub still holds (same epoch, unexpired). On PostgreSQL the rows stay share-locked
        until the caller's commit."""
        with self._lock:
            held = {b: self._owned[b] for b in branch_ids if b in self._owned}
        if not held:
            return set()
        stmt = select(HubLease.branch_id, HubLease.hub_id, HubLease.epoch, HubLease.expires_at)
        stmt = stmt.where(HubLease.branch_id.in_(sorted(held)))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(read=True)
        now = self.clock()
        return {
            branch
            for branch, hub_id, epoch, expires_at in session.execute(stmt)
            if hub_id == self.hub_id and epoch == held[branch] and expires_at > now
        }

    # ------------------------------------------------------------------ the loop

    def start(self, *, first_pass: bool = True) -> BranchLeases:
        """Take a first share at once (``first_pass``), then keep the leases in a thread."""
        if first_pass:
            try:
                self.step()
            except Exception:
                log.exception("hub %s: first lease pass failed; retrying", self.hub_id)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hub-leases", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """Look again now (devices were added: maybe a new branch to share)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.every_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.step()
            except Exception:
                log.exception("hub %s: lease pass failed", self.hub_id)
                if self.last_ok is None or not self.alive:
                    self._drop_all()  # our leases may be anybody's by now

    def stop(self, *, release: bool = True) -> None:
        """Stop the loop; ``release``: hand every branch back at once and leave the members
        (a graceful stop), else let the leases expire (what a crash does)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if not release:
            return
        with self._lock:
            branches = sorted(self._owned)
        for branch in branches:
            self._release(branch)
        try:
            run_in_transaction(
                self.session_factory,
                lambda s: s.execute(delete(HubMember).where(HubMember.hub_id == self.hub_id)),
            )
        except Exception:
            log.warning("hub %s: membership not removed (it expires)", self.hub_id, exc_info=True)

    def step(self) -> dict[str, int]:
        """One pass (see the module); what it did."""
        ttl = timedelta(seconds=self.settings.ttl_s)
        now = self.clock()
        held, live, candidates, taken = run_in_transaction(
            self.session_factory, lambda s: self._renew(s, now, ttl)
        )
        done = {"acquired": 0, "released": 0, "lost": 0}
        with self._lock:
            owned = dict(self._owned)
        for branch, epoch in sorted(owned.items()):
            if held.get(branch) != epoch:
                self._forget(branch)
                log.warning("hub %s: lease of %s lost (taken over)", self.hub_id, branch)
                self.on_lost(branch)
                done["lost"] += 1
        for branch, epoch in held.items():  # held in the database but not here: take it up
            if branch not in owned:
                self._take_up(branch, epoch)
        self.live_hubs = live
        share = math.ceil(len(candidates) / max(1, live)) if candidates else 0
        self.share = share
        with self._lock:
            mine = sorted(self._owned)
        excess = [b for b in mine if b not in candidates]
        keep = [b for b in mine if b in candidates]
        excess += keep[share:]
        for branch in excess:
            self._release(branch)
            done["released"] += 1
        wanted = share - min(len(keep), share)
        free = [b for b in candidates if b not in taken and b not in self._owned]
        # Each hub tries the free branches in its own order, so joiners rarely collide.
        free.sort(key=lambda b: hashlib.sha256(f"{self.hub_id}/{b}".encode()).digest())
        for branch in free:
            if wanted <= 0:
                break
            epoch = run_in_transaction(
                self.session_factory, lambda s, b=branch: self._acquire(s, b, ttl)
            )
            if epoch is not None and self._take_up(branch, epoch):
                done["acquired"] += 1
                wanted -= 1
        self.last_ok = time.monotonic()
        return done

    # ------------------------------------------------------------------ transactions

    def _renew(
        self, session: Session, now: datetime, ttl: timedelta
    ) -> tuple[dict[str, int], int, list[str], set[str]]:
        """Heartbeat, renew ours; (ours with epochs, live hubs, branches to share, branches
        validly leased by anybody)."""
        member = session.get(HubMember, self.hub_id)
        if member is None:
            session.add(HubMember(hub_id=self.hub_id, heartbeat_at=now, started_at=now))
        else:
            member.heartbeat_at = now
        session.execute(
            update(HubLease).where(HubLease.hub_id == self.hub_id).values(expires_at=now + ttl)
        )
        session.execute(delete(HubMember).where(HubMember.heartbeat_at < now - 10 * ttl))
        session.flush()
        live = session.scalar(
            select(func.count()).select_from(HubMember).where(HubMember.heartbeat_at > now - ttl)
        )
        held: dict[str, int] = {}
        taken: set[str] = set()
        for branch, hub_id, epoch, expires_at in session.execute(
            select(HubLease.branch_id, HubLease.hub_id, HubLease.epoch, HubLease.expires_at)
        ):
            if hub_id == self.hub_id:
                held[branch] = epoch
            if hub_id is not None and expires_at > now:
                taken.add(branch)
        # every branch of the bank (its edge's birth needs a hub before any device is added)
        # and every branch with devices
        candidates = sorted(
            set(branches_with_devices(session)) | set(session.scalars(select(Branch.code)))
        )
        if self.settings.branches is not None:
            candidates = [b for b in candidates if b in self.settings.branches]
        return held, int(live or 0), candidates, taken

    def _acquire(self, session: Session, branch: str, ttl: timedelta) -> int | None:
        """Take the branch if free or expired: its new epoch, or None (somebody has it)."""
        now = self.clock()
        got = session.execute(
            update(HubLease)
            .where(
                HubLease.branch_id == branch,
                (HubLease.hub_id.is_(None)) | (HubLease.expires_at <= now),
            )
            .values(hub_id=self.hub_id, epoch=HubLease.epoch + 1, expires_at=now + ttl)
        ).rowcount
        if not got:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = (
                insert(HubLease)
                .values(branch_id=branch, hub_id=self.hub_id, epoch=1, expires_at=now + ttl)
                .on_conflict_do_nothing(index_elements=["branch_id"])
                .returning(HubLease.branch_id)
            )
            if session.execute(stmt).scalar() is None:
                return None
        return session.scalar(
            select(HubLease.epoch).where(
                HubLease.branch_id == branch, HubLease.hub_id == self.hub_id
            )
        )

    # ------------------------------------------------------------------ hand-overs

    def _take_up(self, branch: str, epoch: int) -> bool:
        with self._lock:
            self._owned[branch] = epoch
            self._accepting.add(branch)
        try:
            self.on_acquired(branch)
        except Exception:
            log.exception("hub %s: could not take up %s; releasing it", self.hub_id, branch)
            self._release(branch)
            return False
        log.info("hub %s: ingests %s (epoch %d)", self.hub_id, branch, epoch)
        return True

    def _release(self, branch: str) -> None:
        with self._lock:
            self._accepting.discard(branch)
            epoch = self._owned.get(branch)
        try:
            self.on_releasing(branch)
        except Exception:
            log.exception("hub %s: releasing %s", self.hub_id, branch)
        self._forget(branch)
        if epoch is None:
            return
        try:
            run_in_transaction(
                self.session_factory,
                lambda s: s.execute(
                    update(HubLease)
                    .where(
                        HubLease.branch_id == branch,
                        HubLease.hub_id == self.hub_id,
                        HubLease.epoch == epoch,
                    )
                    .values(hub_id=None, expires_at=self.clock())
                ),
            )
            log.info("hub %s: released %s", self.hub_id, branch)
        except Exception:
            log.warning("hub %s: lease of %s not released (it expires)", self.hub_id, branch)

    def _forget(self, branch: str) -> None:
        with self._lock:
            self._owned.pop(branch, None)
            self._accepting.discard(branch)

    def _drop_all(self) -> None:
        with self._lock:
            branches = sorted(self._owned)
        for branch in branches:
            self._forget(branch)
            self.on_lost(branch)
