"""Branch leases of the hubs (backend/devices/leases.py), on SQLite and PostgreSQL, with a
clock the test moves: the fair share, rebalancing when a hub joins or leaves, a dead hub's
branches taken after the TTL, the fencing of a stale owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.devices.leases import BranchLeases, LeaseSettings
from backend.devices.models import Device, HubLease, HubMember
from backend.platform.db import session_scope

BRANCHES = ["LB001", "LB002", "LB003", "LB004", "LB005"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def branches(session_factory):
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    with session_scope(session_factory) as session:
        for branch in BRANCHES:
            session.add(
                Device(
                    device_id=f"d-{branch.lower()}",
                    branch_id=branch,
                    device_type="kiosk",
                    status="active",
                    mqtt_username=f"d-{branch.lower()}",
                    created_at=now,
                    updated_at=now,
                )
            )
    return BRANCHES


class Owner:
    """What the hub does on the callbacks, recorded."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def callbacks(self) -> dict:
        return {
            "on_acquired": lambda b: self.events.append(("acquired", b)),
            "on_releasing": lambda b: self.events.append(("releasing", b)),
            "on_lost": lambda b: self.events.append(("lost", b)),
        }


def hub(session_factory, clock: Clock, name: str, **settings) -> tuple[BranchLeases, Owner]:
    owner = Owner()
    leases = BranchLeases(
        session_factory,
        LeaseSettings(hub_id=name, ttl_s=8.0, every_s=2.0, **settings),
        clock=clock,
        **owner.callbacks(),
    )
    return leases, owner


def lease_rows(session_factory) -> dict[str, tuple[str | None, int]]:
    with session_factory() as session:
        return {row.branch_id: (row.hub_id, row.epoch) for row in session.scalars(select(HubLease))}


def test_one_hub_takes_every_branch_and_a_joining_hub_gets_its_share(session_factory, branches):
    clock = Clock()
    a, a_owner = hub(session_factory, clock, "hub-a")
    assert a.step()["acquired"] == 5
    assert a.owned() == set(branches)
    assert all(a.accepts(b) for b in branches)
    assert sorted(b for e, b in a_owner.events if e == "acquired") == branches

    b, _b_owner = hub(session_factory, clock, "hub-b")
    assert b.step()["acquired"] == 0  # hub-a holds everything, unexpired
    assert b.share == 3 and b.live_hubs == 2
    clock.advance(1)
    assert a.step()["released"] == 2  # ceil(5 / 2) = 3 kept
    assert len(a.owned()) == 3
    assert sum(1 for e in a_owner.events if e[0] == "releasing") == 2
    assert b.step()["acquired"] == 2
    assert a.owned() | b.owned() == set(branches) and not a.owned() & b.owned()
    # stable: nothing moves any more
    for _ in range(3):
        clock.advance(2)
        assert a.step() == {"acquired": 0, "released": 0, "lost": 0}
        assert b.step() == {"acquired": 0, "released": 0, "lost": 0}
    rows = lease_rows(session_factory)
    assert {b for b, (h, _e) in rows.items() if h == "hub-b"} == b.owned()


def test_a_stopped_hub_releases_at_once(session_factory, branches):
    clock = Clock()
    a, _ = hub(session_factory, clock, "hub-a")
    b, _ = hub(session_factory, clock, "hub-b")
    a.step()
    b.step()
    clock.advance(1)
    a.step()
    b.step()
    assert len(a.owned()) == 3 and len(b.owned()) == 2
    a.stop(release=True)
    with session_factory() as session:
        assert session.get(HubMember, "hub-a") is None
    clock.advance(0.5)  # well within the TTL: released, not expired
    assert b.step()["acquired"] == 3
    assert b.owned() == set(branches)


def test_a_dead_hubs_branches_are_taken_after_the_ttl_with_a_new_epoch(session_factory, branches):
    clock = Clock()
    a, _ = hub(session_factory, clock, "hub-a")
    b, _ = hub(session_factory, clock, "hub-b")
    a.step()
    b.step()
    a.step()
    b.step()
    before = lease_rows(session_factory)
    dead = a.owned()
    assert dead
    # hub-a is killed: no release, no more heartbeats
    clock.advance(4)
    b.step()
    assert b.owned().isdisjoint(dead)  # not yet expired
    clock.advance(5)  # past the TTL of 8 s
    b.step()
    assert b.owned() == set(branches)
    after = lease_rows(session_factory)
    for branch in dead:
        assert after[branch] == ("hub-b", before[branch][1] + 1)


def test_a_stale_owner_is_fenced_out_and_finds_out(session_factory, branches):
    clock = Clock()
    a, a_owner = hub(session_factory, clock, "hub-a")
    a.step()
    with session_factory() as session:
        assert a.fence(session, ["LB001", "LB002", "NOPE"]) == {"LB001", "LB002"}
    # hub-a stalls past its TTL; hub-b arrives and takes everything
    clock.advance(9)
    b, _ = hub(session_factory, clock, "hub-b")
    b.step()
    assert b.owned() == set(branches)
    with session_factory() as session:
        assert a.fence(session, branches) == set()  # no ingest commit for any of them
        assert b.fence(session, branches) == set(branches)
    # hub-a wakes up: its pass finds the leases lost and stops taking their messages
    clock.advance(0.1)
    assert a.step()["lost"] == 5
    assert a.owned() == set() and not a.accepts("LB001")
    assert sorted(b for e, b in a_owner.events if e == "lost") == branches


def test_an_expired_lease_nobody_took_is_renewed(session_factory, branches):
    clock = Clock()
    a, _ = hub(session_factory, clock, "hub-a")
    a.step()
    clock.advance(9)
    with session_factory() as session:
        assert a.fence(session, ["LB001"]) == set()  # expired: no commit meanwhile
    a.step()  # nobody took them: renewed, same epochs
    assert a.owned() == set(branches)
    with session_factory() as session:
        assert a.fence(session, ["LB001"]) == {"LB001"}


def test_the_static_filter_limits_the_branches_shared(session_factory, branches):
    clock = Clock()
    a, _ = hub(session_factory, clock, "hub-a", branches={"LB001", "LB002"})
    a.step()
    assert a.owned() == {"LB001", "LB002"}
