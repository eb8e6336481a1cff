"""Cash loading against the database, the device events played as the ingest would deliver
them: the whole flow, and every way it must not open."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.branch import events
from backend.branch.cash import booking
from backend.branch.cash import queries as cash_queries
from backend.branch.cash import service as cash
from backend.branch.ports import HallPort
from backend.devices.models import Device, DeviceAlarm
from backend.devices.rules import signals_for
from backend.platform.audit import AuditRecord
from backend.platform.errors import BusinessRuleViolation, NotFound, PermissionDenied
from edge.protocol import SealedCode, make_envelope
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import (
    actor,
    enrol_loaders,
    ready_devices,
    set_device,
    user_id,
)

branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture


B, ATM, LOCK = "BR001", "BR001-ATM-01", "BR001-LCK-01"
_seq = itertools.count(1)


@pytest.fixture
def s(hall_factory):
    with hall_factory() as session:
        ready_devices(session)
        enrol_loaders(session, LOCK, "loader1", "loader2")
        session.commit()
        yield session


def make_task(s, hall, clock, amounts=None, start=-10, minutes=120, approve=True):
    view = cash.create_task(
        s,
        actor(s, "teller1"),
        hall,
        device_id=ATM,
        loaders=[user_id(s, "loader1"), user_id(s, "loader2")],
        window_start=clock() + timedelta(minutes=start),
        window_end=clock() + timedelta(minutes=start + minutes),
        amounts=amounts or {"100.00": "50000.00", "50.00": "10000.00"},
    )
    if approve:
        view = cash.approve_task(s, actor(s, "teller2"), hall, view["id"])
    return view


def event(s, hall, clock, device_type, device_id, type_, data):
    env = make_envelope(type_, data, next(_seq), now=clock())
    return events.on_device_event(s, B, device_type, device_id, env, hall=hall)


def verify(s, hall, clock, loader, matched=True, lock=LOCK):
    data = {
        "loader_id": loader,
        "score": 0.93 if matched else 0.2,
        "matched": matched,
        "task_id": None,
    }
    return event(s, hall, clock, "lock", lock, "lock.verification", data)


def arm_commands(hall):
    return hall.send_command.named("lock.arm")


def task(s, task_id):
    from backend.branch.models import CashTask

    s.expire_all()
    return s.get(CashTask, task_id)


def test_the_whole_flow_books_through_the_ledger_and_closes(s, hall, clock):
    view = make_task(s, hall, clock)
    assert view["status"] == "approved" and view["lock_id"] == LOCK
    assert verify(s, hall, clock, "loader1") == "verified"
    clock.tick(20)
    assert verify(s, hall, clock, "loader2") == "armed"
    s.commit()
    [(lock_id, args)] = arm_commands(hall)
    assert lock_id == LOCK and args["valid_for_s"] == 120
    assert sorted(args["loaders"]) == ["loader1", "loader2"] and args["task_id"] == view["ref"]
    # the code reaches the two loaders only, and matches the digest the lock got
    pushes = [(d, r) for e, d, r in hall.live.sent if e == "cash_task.update"]
    with_code = [(d, r) for d, r in pushes if "unlock_code" in d]
    assert len(with_code) == 1
    code, rooms = with_code[0][0]["unlock_code"], with_code[0][1]
    assert rooms == [f"user:{user_id(s, 'loader1')}", f"user:{user_id(s, 'loader2')}"]
    # the lock gets the code sealed with its own secret, at signing time only
    assert args["code_mac"] == SealedCode(view["ref"], code)
    assert code not in repr(args) and "code_sha256" not in args
    assert cash_queries.get_task(s, actor(s, "loader1"), hall, view["id"])["unlock_code"] == code
    assert "unlock_code" not in cash_queries.get_task(s, actor(s, "teller1"), hall, view["id"])
    # the lock opens for exactly these loaders
    clock.tick(30)
    assert (
        event(
            s,
            hall,
            clock,
            "lock",
            LOCK,
            "lock.unlocked",
            {"task_id": view["ref"], "loaders": ["loader1", "loader2"]},
        )
        == "unlocked"
    )
    assert HallPort().cash_task_open(s, ATM, clock()) is True
    s.commit()
    assert hall.send_command.named("cash.enter_exchange") == [(ATM, {"task_id": view["ref"]})]
    event(s, hall, clock, "cash", ATM, "cash.exchange_started", {"task_id": view["ref"]})
    for unit, denom, before, after in (
        ("C1", "100.00", 1500, 1800),
        ("C2", "100.00", 1200, 1400),
        ("C3", "50.00", 800, 1000),
    ):
        assert (
            event(
                s,
                hall,
                clock,
                "cash",
                ATM,
                "cash.replenished",
                {
                    "unit": unit,
                    "denomination": denom,
                    "before": before,
                    "after": after,
                    "task_id": view["ref"],
                },
            )
            == "counted"
        )
    assert (
        event(
            s,
            hall,
            clock,
            "cash",
            ATM,
            "cash.exchange_ended",
            {"task_id": view["ref"], "total": "0.00"},
        )
        == "loaded"
    )
    assert booking.machine_balance(s, B, ATM) == Decimal("60000.00")
    assert event(s, hall, clock, "cash", ATM, "cash.safe_door_closed", {}) == "closed"
    s.commit()
    done = task(s, view["id"])
    assert done.status == "closed" and done.code_ciphertext is None
    assert hall.send_command.named("lock.lock") == [(LOCK, {"task_id": view["ref"]})]
    actions = set(
        s.scalars(
            select(AuditRecord.action).where(
                AuditRecord.object_type == "cash_task", AuditRecord.object_id == str(view["id"])
            )
        )
    )
    assert {
        "cash_task.created",
        "cash_task.approved",
        "cash_task.loader_verified",
        "cash_task.unlock_sent",
        "cash_task.unlocked",
        "cash_task.loaded",
        "cash_task.closed",
    } <= actions
    assert HallPort().cash_task_open(s, ATM, clock()) is False
    # booking is idempotent: the same task books once
    booking.book_loading(
        s, done.id, B, ATM, {"100.00": Decimal("50000.00"), "50.00": Decimal("10000.00")}, clock()
    )
    assert booking.machine_balance(s, B, ATM) == Decimal("60000.00")


def test_maker_checker_and_visibility(s, hall, clock):
    view = make_task(s, hall, clock, approve=False)
    with pytest.raises(PermissionDenied):
        cash.approve_task(s, actor(s, "teller1"), hall, view["id"])  # the maker
    with pytest.raises(PermissionDenied):
        cash.approve_task(s, actor(s, "loader1"), hall, view["id"])
    for outsider in ("teller9", "client1", "dealer1"):
        with pytest.raises(NotFound):
            cash_queries.get_task(s, actor(s, outsider), hall, view["id"])
        with pytest.raises(NotFound):
            cash.approve_task(s, actor(s, outsider), hall, view["id"])
    assert cash.approve_task(s, actor(s, "approver1"), hall, view["id"])["status"] == "approved"


def test_one_loader_alone_never_opens(s, hall, clock):
    make_task(s, hall, clock)
    for _ in range(3):
        assert verify(s, hall, clock, "loader1") == "verified"
        clock.tick(30)
    clock.tick(200)  # the first loader's verification is stale by now
    assert verify(s, hall, clock, "loader2") == "verified"
    s.commit()
    assert arm_commands(hall) == []


def test_a_loader_not_on_the_task_never_opens(s, hall, clock):
    view = make_task(s, hall, clock)
    assert verify(s, hall, clock, "loader1") == "verified"
    assert verify(s, hall, clock, "loader9") == "loader_not_on_task"
    assert verify(s, hall, clock, "teller2") == "loader_not_on_task"
    assert verify(s, hall, clock, "loader2", matched=False) == "vein_not_matched"
    s.commit()
    assert arm_commands(hall) == []
    refused = list(
        s.scalars(
            select(AuditRecord.after)
            .where(
                AuditRecord.action == "cash_task.unlock_refused",
                AuditRecord.object_id == str(view["id"]),
            )
            .order_by(AuditRecord.id)  # PostgreSQL returns rows in no particular order
        )
    )
    assert [r["reason"] for r in refused] == [
        "loader_not_on_task",
        "loader_not_on_task",
        "vein_not_matched",
    ]


def test_outside_the_window_never_opens(s, hall, clock):
    make_task(s, hall, clock, start=30)
    assert verify(s, hall, clock, "loader1") == "outside_window"
    assert verify(s, hall, clock, "loader2") == "outside_window"
    clock.tick(minutes=200)
    assert verify(s, hall, clock, "loader1") == "outside_window"
    s.commit()
    assert arm_commands(hall) == []


@pytest.mark.parametrize(
    ("device", "state", "online", "reason"),
    [
        (LOCK, {"tamper": True}, True, "lock_tampered"),
        (LOCK, {}, False, "lock_offline"),
        (ATM, {}, False, "cash_device_offline"),
        (ATM, {"safe_door": "open"}, True, "safe_door_open"),
        (ATM, {"mode": "exchange"}, True, "cash_device_not_in_service"),
    ],
)
def test_devices_in_the_wrong_state_never_open(s, hall, clock, device, state, online, reason):
    view = make_task(s, hall, clock)
    set_device(s, device, online=online, **state)
    verify(s, hall, clock, "loader1")
    assert verify(s, hall, clock, "loader2") == reason
    s.commit()
    assert arm_commands(hall) == []
    assert task(s, view["id"]).phase == "awaiting_loaders"


def test_expired_or_replayed_unlock_raises_a_critical_alarm(s, hall, clock):
    view = make_task(s, hall, clock)
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    clock.tick(130)  # the unlock was not used in time
    opened = {"task_id": view["ref"], "loaders": ["loader1", "loader2"]}
    assert event(s, hall, clock, "lock", LOCK, "lock.unlocked", opened) == "unlock_expired"
    alarm = s.scalar(
        select(DeviceAlarm).where(DeviceAlarm.rule == "lock_opened_without_valid_unlock")
    )
    assert alarm.severity == "critical" and alarm.active
    assert task(s, view["id"]).status == "approved"
    assert cash.expire_unlocks(s, hall, clock()) == 1
    s.commit()
    assert hall.send_command.named("lock.disarm") == [(LOCK, {"task_id": view["ref"]})]
    assert task(s, view["id"]).code_ciphertext is None
    # a fresh pair of verifications gives a new unlock; it works once, a replay alarms
    verify(s, hall, clock, "loader1")
    assert verify(s, hall, clock, "loader2") == "armed"
    assert event(s, hall, clock, "lock", LOCK, "lock.unlocked", opened) == "unlocked"
    assert event(s, hall, clock, "lock", LOCK, "lock.unlocked", opened) == "second_opening"
    wrong = make_envelope("lock.unlocked", {"task_id": "CT999", "loaders": []}, 99, now=clock())
    assert events.on_device_event(s, B, "lock", LOCK, wrong, hall=hall) == "unknown_task"


def test_unlock_for_other_loaders_alarms(s, hall, clock):
    view = make_task(s, hall, clock)
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    assert (
        event(
            s,
            hall,
            clock,
            "lock",
            LOCK,
            "lock.unlocked",
            {"task_id": view["ref"], "loaders": ["loader1", "loader9"]},
        )
        == "wrong_loaders"
    )


def test_count_mismatch_alarms_and_keeps_the_task_open_for_review(s, hall, clock):
    view = make_task(s, hall, clock, amounts={"100.00": "50000.00"})
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    event(
        s,
        hall,
        clock,
        "lock",
        LOCK,
        "lock.unlocked",
        {"task_id": view["ref"], "loaders": ["loader2", "loader1"]},
    )
    event(
        s,
        hall,
        clock,
        "cash",
        ATM,
        "cash.replenished",
        {"unit": "C1", "denomination": "100.00", "before": 1500, "after": 1990},
    )
    assert event(s, hall, clock, "cash", ATM, "cash.exchange_ended", {}) == "count_mismatch"
    alarm = s.scalar(select(DeviceAlarm).where(DeviceAlarm.rule == "cash_count_mismatch"))
    assert alarm.severity == "major"
    assert alarm.details["differences"]["100.00"]["difference"] == "-1000.00"
    assert event(s, hall, clock, "cash", ATM, "cash.safe_door_closed", {}) == "door_closed"
    t = task(s, view["id"])
    assert (t.status, t.phase) == ("unlocked", "count_mismatch")
    assert HallPort().cash_task_open(s, ATM, clock()) is True
    assert booking.machine_balance(s, B, ATM) in (None, Decimal("0.00"))
    with pytest.raises(PermissionDenied):
        cash.review_task(s, actor(s, "teller1"), hall, view["id"], note="maker may not")
    reviewed = cash.review_task(
        s, actor(s, "teller2"), hall, view["id"], note="recounted: 490 notes"
    )
    assert reviewed["status"] == "closed" and reviewed["loaded"] == {"100.00": "49000.00"}
    assert booking.machine_balance(s, B, ATM) == Decimal("49000.00")


def test_safe_door_without_a_task_is_a_critical_alarm(s, hall, clock):
    def door_signal():
        return signals_for(
            "cash",
            "event",
            "cash.safe_door_opened",
            {},
            cash_task_open=lambda: HallPort().cash_task_open(s, ATM, clock()),
        )

    [signal] = door_signal()
    assert signal.active and signal.severity == "critical"
    view = make_task(s, hall, clock)
    assert door_signal()[0].active  # approved is not enough: the lock has not opened
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    event(
        s,
        hall,
        clock,
        "lock",
        LOCK,
        "lock.unlocked",
        {"task_id": view["ref"], "loaders": ["loader1", "loader2"]},
    )
    assert not door_signal()[0].active


def test_cancel_before_opening_only(s, hall, clock):
    view = make_task(s, hall, clock)
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    cancelled = cash.cancel_task(s, actor(s, "teller2"), hall, view["id"], reason="truck late")
    assert cancelled["status"] == "cancelled"
    s.commit()
    assert hall.send_command.named("lock.disarm")
    again = make_task(s, hall, clock)
    verify(s, hall, clock, "loader1")
    verify(s, hall, clock, "loader2")
    event(
        s,
        hall,
        clock,
        "lock",
        LOCK,
        "lock.unlocked",
        {"task_id": again["ref"], "loaders": ["loader1", "loader2"]},
    )
    with pytest.raises(BusinessRuleViolation):
        cash.cancel_task(s, actor(s, "teller2"), hall, again["id"])


def test_task_validation(s, hall, clock):
    loaders = [user_id(s, "loader1"), user_id(s, "loader2")]
    base = dict(
        device_id=ATM,
        loaders=loaders,
        window_start=clock(),
        window_end=clock() + timedelta(hours=1),
        amounts={"100.00": "1000.00"},
    )
    for change, error in (
        ({"loaders": [loaders[0], loaders[0]]}, "two_loaders_required"),
        ({"loaders": [loaders[0], user_id(s, "loader9")]}, "invalid_loader"),
        ({"loaders": [loaders[0], user_id(s, "teller2")]}, "invalid_loader"),
        ({"device_id": "BR001-LCK-01"}, "not_a_cash_device"),
        ({"amounts": {"100.00": "1050.00"}}, "validation_error"),
    ):
        with pytest.raises(Exception) as err:
            cash.create_task(s, actor(s, "teller1"), hall, **{**base, **change})
        assert err.value.code == error
    with pytest.raises(NotFound):
        cash.create_task(s, actor(s, "teller1"), hall, **{**base, "device_id": "nope"})
    with pytest.raises(PermissionDenied):
        cash.create_task(s, actor(s, "loader1"), hall, **base)
    cash.create_task(s, actor(s, "teller1"), hall, **base)
    with pytest.raises(Exception) as err:
        cash.create_task(s, actor(s, "teller1"), hall, **base)
    assert err.value.code == "open_task_exists"
    assert s.scalar(select(Device.device_type).where(Device.device_id == ATM)) == "cash"


def test_a_failing_handler_is_isolated(s, hall, clock, monkeypatch):
    make_task(s, hall, clock)

    def broken(session, hall_, lock_id, data, now):
        hall_.command(session, lock_id, "lock.arm", {"task_id": "CT0"})
        raise RuntimeError("bug")

    monkeypatch.setattr(cash, "on_verification", broken)
    assert verify(s, hall, clock, "loader1") == "failed"
    s.commit()  # the batch around it commits; what the failed handler queued is dropped
    assert arm_commands(hall) == []
