"""Finger-vein enrolment of cash loaders: consent, enrolment requests, the lock's reports, the
revocation job and the cash flow's enrolment check; the HTTP API and who sees what; and that
nothing of a vein ever reaches the centre's tables."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.branch import events
from backend.branch.cash import queries as cash_queries
from backend.branch.cash import service as cash
from backend.branch.models import VeinConsent, VeinEnrolment
from backend.branch.veins import queries as vein_queries
from backend.branch.veins import records as vein_records
from backend.branch.veins import service as veins
from backend.devices import service as devices
from backend.devices.models import DeviceAlarm, DeviceCommand
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.errors import BusinessRuleViolation, NotFound, PermissionDenied
from edge.protocol import make_ack, make_envelope
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import (
    actor,
    enrol_loaders,
    make_hall,
    ready_devices,
    user_id,
)

branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture
hall_app = support.hall_app  # fixture
api = support.api  # fixture

B, ATM, LOCK = "BR001", "BR001-ATM-01", "BR001-LCK-01"
_seq = itertools.count(1)


@pytest.fixture
def s(hall_factory):
    with hall_factory() as session:
        ready_devices(session)
        session.commit()
        yield session


def lock_event(s, hall, type_, data, lock=LOCK):
    env = make_envelope(type_, data, next(_seq), now=hall.now())
    return events.on_device_event(s, B, "lock", lock, env, hall=hall)


def lock_ack(s, hall, command_id, status="ok", lock=LOCK):
    env = make_ack(command_id, status, "", next(_seq), now=hall.now())
    return events.on_device_event(s, B, "lock", lock, env, channel="ack", hall=hall)


def row(s, username, lock=LOCK):
    s.expire_all()
    return s.scalar(
        select(VeinEnrolment).where(
            VeinEnrolment.lock_id == lock, VeinEnrolment.username == username
        )
    )


def consent(s, username):
    return veins.grant_consent(s, actor(s, username), text_version="vein-v1", now=support.T0)


def request(s, hall, username, by="teller1"):
    return veins.request_enrolment(s, actor(s, by), hall, LOCK, user_id(s, username))


def capture_and_enrol(s, hall, username):
    for n in (1, 2, 3):
        assert lock_event(s, hall, "lock.capture", {"loader_id": username, "n": n}) == "capture"
    return lock_event(s, hall, "lock.enrolled", {"loader_id": username})


def no_biometrics(s) -> None:
    """Nothing in the audit log or the device commands carries a template or a capture."""
    audit_rows = [
        (a.action, json.dumps(a.before), json.dumps(a.after))
        for a in s.scalars(select(AuditRecord).where(AuditRecord.action.like("branch.vein%")))
    ]
    assert audit_rows
    commands = [json.dumps(c.args) for c in s.scalars(select(DeviceCommand))]
    for text in [t for r in audit_rows for t in r] + commands:
        assert "template" not in text and "capture_data" not in text


def test_consent_enrolment_lock_reports_and_revocation(db_url, make_app):
    """The whole life of two loaders' enrolments, on SQLite and PostgreSQL."""
    app = make_app(db_url)
    factory = app.extensions["finedge"].session_factory
    clock = support.Clock()
    hall = make_hall(clock)
    with factory() as s:
        ready_devices(s)
        view = vein_queries.get_consent(s, actor(s, "loader1"))
        assert view["status"] == "none" and view["enrolments"] == 0
        with pytest.raises(BusinessRuleViolation) as refused:
            request(s, hall, "loader1")
        assert refused.value.code == "vein_consent_missing"
        assert consent(s, "loader1")["status"] == "granted"
        assert consent(s, "loader1")["status"] == "granted"  # again: one consent row
        assert len(s.scalars(select(VeinConsent)).all()) == 1
        started = request(s, hall, "loader1")
        assert started["status"] == "capturing" and started["username"] == "loader1"
        assert started["loader_id"] == user_id(s, "loader1") and started["lock_id"] == LOCK
        s.commit()
        assert hall.send_command.named("lock.enroll") == [
            (LOCK, {"loader_id": "loader1", "captures": 3, "valid_for_s": 120})
        ]
        assert capture_and_enrol(s, hall, "loader1") == "enrolled"
        assert row(s, "loader1").status == "enrolled" and row(s, "loader1").captures == 3

        # the second loader's capture times out at the lock; asked again, it works
        consent(s, "loader2")
        request(s, hall, "loader2")
        failed = lock_event(s, hall, "lock.enrol_failed", {"loader_id": "loader2", "reason": "t"})
        assert failed == "failed" and row(s, "loader2").status == "failed"
        request(s, hall, "loader2")
        assert capture_and_enrol(s, hall, "loader2") == "enrolled"
        assert vein_queries.missing_enrolments(s, LOCK, ["loader1", "loader2"]) == []
        with pytest.raises(Exception) as again:
            request(s, hall, "loader2")
        assert again.value.code == "already_enrolled"
        s.commit()

        # loader1 withdraws: the lock is told at once, and again by the job until it answers
        hall.send_command.sent.clear()
        withdrawn = veins.withdraw_consent(s, actor(s, "loader1"), hall, now=clock())
        assert withdrawn["status"] == "withdrawn" and withdrawn["enrolments"] == 0
        s.commit()
        assert hall.send_command.named("lock.revoke") == [(LOCK, {"loader_id": "loader1"})]
        assert row(s, "loader1").status == "revoking"
        assert vein_queries.missing_enrolments(s, LOCK, ["loader1", "loader2"]) == ["loader1"]
        with pytest.raises(Exception) as pending:
            consent(s, "loader1")
            request(s, hall, "loader1")
        assert pending.value.code == "revocation_pending"
        s.rollback()
        assert veins.resend_revocations(s, hall, clock.tick(30))["revokes_sent"] == 0
        assert veins.resend_revocations(s, hall, clock.tick(31))["revokes_sent"] == 1
        assert veins.resend_revocations(s, hall, clock.tick(61))["revokes_sent"] == 1
        s.commit()
        assert len(hall.send_command.named("lock.revoke")) == 3
        assert row(s, "loader1").revoke_attempts == 3
        assert lock_event(s, hall, "lock.revoked", {"loader_id": "loader1"}) == "revoked"
        assert row(s, "loader1") is None
        assert veins.resend_revocations(s, hall, clock.tick(120))["revokes_sent"] == 0

        # a teller removes loader2; the lock's ok ack of lock.revoke confirms it
        removed = veins.revoke_enrolment(
            s, actor(s, "teller2"), hall, LOCK, user_id(s, "loader2"), now=clock()
        )
        assert removed["status"] == "revoking"
        command_id = str(uuid.uuid4())
        devices.create_command(
            s, SYSTEM, LOCK, "lock.revoke", {"loader_id": "loader2"}, command_id, now=clock()
        )
        assert lock_ack(s, hall, command_id) == "revoked"
        assert row(s, "loader2") is None
        assert lock_event(s, hall, "lock.revoked", {"loader_id": "loader2"}) == "ignored"
        s.commit()
        actions = s.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.action.like("branch.vein%"))
            .order_by(AuditRecord.id)
        ).all()
        assert {
            "branch.vein_consent_granted",
            "branch.vein_enrolment_requested",
            "branch.vein_enrolled",
            "branch.vein_enrol_failed",
            "branch.vein_consent_withdrawn",
            "branch.vein_enrolment_revoke_requested",
            "branch.vein_enrolment_revoked",
        } <= set(actions)
        no_biometrics(s)


def test_an_unrequested_enrolment_is_revoked_with_a_major_alarm(s, hall):
    consent(s, "loader1")
    # consent but no request at the centre
    assert lock_event(s, hall, "lock.enrolled", {"loader_id": "loader1"}) == "not_requested"
    # a name the centre does not know at all
    assert lock_event(s, hall, "lock.enrolled", {"loader_id": "mallory"}) == "no_consent"
    # a capture requested, then consent withdrawn before the lock finished
    consent(s, "loader2")
    request(s, hall, "loader2")
    veins.withdraw_consent(s, actor(s, "loader2"), hall, now=hall.now())
    assert lock_event(s, hall, "lock.enrolled", {"loader_id": "loader2"}) == "no_consent"
    s.commit()
    revokes = hall.send_command.named("lock.revoke")
    assert (LOCK, {"loader_id": "loader1"}) in revokes
    assert (LOCK, {"loader_id": "mallory"}) in revokes
    assert revokes.count((LOCK, {"loader_id": "loader2"})) == 2  # withdrawal, then the alarm
    for username in ("loader1", "mallory", "loader2"):
        assert row(s, username).status == "revoking"
    assert row(s, "mallory").user_id is None
    alarm = s.scalar(select(DeviceAlarm).where(DeviceAlarm.rule == vein_records.ALARM_RULE))
    assert alarm.severity == "major" and alarm.active
    assert vein_queries.missing_enrolments(s, LOCK, ["loader1", "loader2"]) == [
        "loader1",
        "loader2",
    ]
    assert any(e == "device.alarm" for e, _d, _r in hall.live.sent)
    # a late confirmation clears the strays
    assert lock_event(s, hall, "lock.revoked", {"loader_id": "mallory"}) == "revoked"
    assert row(s, "mallory") is None


def test_cash_task_is_refused_arming_when_a_loader_is_not_enrolled(s, hall, clock):
    enrol_loaders(s, LOCK, "loader1")
    view = cash.create_task(
        s,
        actor(s, "teller1"),
        hall,
        device_id=ATM,
        loaders=[user_id(s, "loader1"), user_id(s, "loader2")],
        window_start=clock() - timedelta(minutes=5),
        window_end=clock() + timedelta(hours=1),
        amounts={"100.00": "10000.00"},
    )
    cash.approve_task(s, actor(s, "teller2"), hall, view["id"])

    def verify(loader):
        data = {"loader_id": loader, "score": 0.95, "matched": True, "task_id": None}
        return lock_event(s, hall, "lock.verification", data)

    assert verify("loader1") == "verified"
    assert verify("loader2") == "loader_not_enrolled"
    s.commit()
    assert hall.send_command.named("lock.arm") == []
    refusal = s.scalar(
        select(AuditRecord.after).where(
            AuditRecord.action == "cash_task.unlock_refused",
            AuditRecord.object_id == str(view["id"]),
        )
    )
    assert refusal == {"reason": "loader_not_enrolled", "lock_id": LOCK, "loaders": ["loader2"]}
    assert (
        cash_queries.get_task(s, actor(s, "teller1"), hall, view["id"])["phase"]
        == "awaiting_loaders"
    )
    # once enrolled through the lock, the same two verifications arm it
    consent(s, "loader2")
    request(s, hall, "loader2")
    assert capture_and_enrol(s, hall, "loader2") == "enrolled"
    assert verify("loader1") == "verified"
    assert verify("loader2") == "armed"
    s.commit()
    assert len(hall.send_command.named("lock.arm")) == 1


def test_who_may_enrol_and_see(s, hall):
    from backend.identity.models import User

    support.add_other_branch(s)
    for username in ("loader1", "loader2"):  # the demo seed's loaders belong to BR001
        user = s.scalar(select(User).where(User.username == username))
        assert (user.role, user.branch_id, user.active) == ("loader", B, True)
    consent(s, "loader1")
    consent(s, "loader2")
    with pytest.raises(NotFound):
        request(s, hall, "loader1", by="teller9")
    with pytest.raises(PermissionDenied):
        request(s, hall, "loader1", by="loader2")
    with pytest.raises(NotFound):
        veins.request_enrolment(s, actor(s, "teller1"), hall, ATM, user_id(s, "loader1"))
    with pytest.raises(BusinessRuleViolation) as wrong:
        veins.request_enrolment(s, actor(s, "teller1"), hall, LOCK, user_id(s, "teller2"))
    assert wrong.value.code == "invalid_loader"
    assert request(s, hall, "loader1", by="admin")["status"] == "capturing"
    request(s, hall, "loader2")
    mine = vein_queries.list_enrolments(s, actor(s, "loader2"), LOCK).items
    assert [r.username for r in mine] == ["loader2"]
    assert len(vein_queries.list_enrolments(s, actor(s, "teller2"), LOCK).items) == 2
    for outsider in ("teller9", "client1", "loader9"):
        with pytest.raises(NotFound):
            vein_queries.list_enrolments(s, actor(s, outsider), LOCK)
    with pytest.raises(NotFound):
        veins.revoke_enrolment(s, actor(s, "teller9"), hall, LOCK, user_id(s, "loader1"))
    with pytest.raises(PermissionDenied):
        vein_queries.get_consent(s, actor(s, "client1"))


def test_vein_api(api, hall):
    with api.session() as s:
        ready_devices(s)
        ids = {u: user_id(s, u) for u in ("loader1", "loader2", "teller1", "loader9")}
        s.commit()
    base = f"/locks/{LOCK}/enrolments"
    assert api.ok(api.get("loader1", "/vein/consent"))["status"] == "none"
    assert api.get("client1", "/vein/consent").status_code == 403
    missing = api.post("teller1", base, {"loader_id": ids["loader1"]})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["code"] == "vein_consent_missing"
    outdated = api.post("loader1", "/vein/consent", {"text_version": "vein-v0"})
    assert outdated.status_code == 400
    granted = api.ok(api.post("loader1", "/vein/consent", {"text_version": "vein-v1"}))
    assert granted["status"] == "granted" and granted["text_version"] == "vein-v1"
    api.ok(api.post("loader2", "/vein/consent", {"text_version": "vein-v1"}))

    started = api.ok(api.post("teller1", base, {"loader_id": ids["loader1"]}), 202)
    assert {k: started[k] for k in ("lock_id", "loader_id", "username", "status")} == {
        "lock_id": LOCK,
        "loader_id": ids["loader1"],
        "username": "loader1",
        "status": "capturing",
    }
    assert started["requested_at"] and started["enrolled_at"] is None
    assert hall.send_command.named("lock.enroll")[-1] == (
        LOCK,
        {"loader_id": "loader1", "captures": 3, "valid_for_s": 120},
    )
    api.ok(api.post("teller1", base, {"loader_id": ids["loader2"]}), 202)
    assert api.post("teller1", base, {"loader_id": ids["loader9"]}).status_code == 422
    assert api.post("teller1", base, {"loader_id": ids["teller1"]}).status_code == 422
    assert api.post("teller1", base, {"loader_id": "x"}).status_code == 400
    assert api.post("loader1", base, {"loader_id": ids["loader1"]}).status_code == 403
    assert api.post("teller1", "/locks/NOPE/enrolments", {"loader_id": 1}).status_code == 404

    # another branch's teller: 404 for everything; a loader sees only their own
    assert api.get("teller9", base).status_code == 404
    assert api.post("teller9", base, {"loader_id": ids["loader1"]}).status_code == 404
    assert api.send("DELETE", "teller9", f"{base}/{ids['loader1']}").status_code == 404
    assert api.get("client1", base).status_code == 404
    listed = api.ok(api.get("teller1", base))
    assert sorted(i["username"] for i in listed["items"]) == ["loader1", "loader2"]
    assert listed["next_cursor"] is None
    own = api.ok(api.get("loader2", base))["items"]
    assert [i["loader_id"] for i in own] == [ids["loader2"]]

    with api.session() as s:  # the lock reports loader1's capture done
        assert capture_and_enrol(s, hall, "loader1") == "enrolled"
        s.commit()
    mine = api.ok(api.get("loader1", base))["items"]
    assert mine[0]["status"] == "enrolled" and mine[0]["enrolled_at"]
    assert api.ok(api.get("loader1", "/vein/consent"))["enrolments"] == 1
    again = api.post("teller1", base, {"loader_id": ids["loader1"]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_enrolled"

    removed = api.ok(api.send("DELETE", "teller1", f"{base}/{ids['loader1']}"), 202)
    assert removed["status"] == "revoking"
    assert hall.send_command.named("lock.revoke")[-1] == (LOCK, {"loader_id": "loader1"})
    assert api.send("DELETE", "teller1", f"{base}/{ids['teller1']}").status_code == 404

    withdrawn = api.ok(api.post("loader2", "/vein/consent/withdraw"))
    assert withdrawn["status"] == "withdrawn"
    assert hall.send_command.named("lock.revoke")[-1] == (LOCK, {"loader_id": "loader2"})
    statuses = {i["username"]: i["status"] for i in api.ok(api.get("teller1", base))["items"]}
    assert statuses == {"loader1": "revoking", "loader2": "revoking"}
    with api.session() as s:
        no_biometrics(s)
    spec = api.client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/vein/consent", "/api/v1/locks/{lock_id}/enrolments"} <= set(spec)


def test_each_enrolment_change_is_pushed_to_the_branch_and_the_loader(s, hall, clock):
    from backend.bootstrap import collect_areas, live_renderers

    assert vein_records.LIVE_EVENT == "vein_enrolment.update"
    assert vein_records.LIVE_EVENT in live_renderers(collect_areas())
    consent(s, "loader1")
    consent(s, "loader2")
    request(s, hall, "loader1")
    assert capture_and_enrol(s, hall, "loader1") == "enrolled"
    veins.revoke_enrolment(s, actor(s, "teller1"), hall, LOCK, user_id(s, "loader1"))
    assert lock_event(s, hall, "lock.revoked", {"loader_id": "loader1"}) == "revoked"
    request(s, hall, "loader2")
    lock_event(s, hall, "lock.enrol_failed", {"loader_id": "loader2", "reason": "timeout"})
    assert hall.live.sent == []  # nothing leaves before the commit
    s.commit()
    pushed = [(d, r) for e, d, r in hall.live.sent if e == vein_records.LIVE_EVENT]
    for username in ("loader1", "loader2"):
        rooms = [f"user:{user_id(s, username)}", f"branch:{B}"]
        assert all(r == rooms for d, r in pushed if d["username"] == username)
    steps = [(d["status"], d["captures"]) for d, _r in pushed if d["username"] == "loader1"]
    assert steps == [
        ("capturing", 0),
        ("capturing", 1),
        ("capturing", 2),
        ("capturing", 3),
        ("enrolled", 3),
        ("revoking", 3),
        ("revoked", 3),
    ]
    assert [d["status"] for d, _r in pushed if d["username"] == "loader2"] == [
        "capturing",
        "failed",
    ]
    view_keys = set(vein_queries.enrolment_view(row(s, "loader2")))
    for data, _rooms in pushed:  # the enrolment's view, nothing of the vein
        assert set(data) - view_keys <= {"source"}
        assert "template" not in json.dumps(data)


def test_a_retired_lock_ends_its_enrolments_without_sending_anything(s, hall, clock):
    enrol_loaders(s, LOCK, "loader1")
    consent(s, "loader2")
    request(s, hall, "loader2")  # capturing
    veins.revoke_enrolment(s, actor(s, "teller1"), hall, LOCK, user_id(s, "loader1"))
    s.commit()
    devices.change_status(s, SYSTEM, LOCK, "retired", now=clock())
    s.commit()
    hall.send_command.sent.clear()
    hall.live.sent.clear()
    done = veins.resend_revocations(s, hall, clock.tick(vein_records.RESEND_REVOKE_S + 1))
    assert done == {"revokes_sent": 0, "captures_expired": 0, "enrolments_ended": 2}
    s.commit()
    assert row(s, "loader1") is None and row(s, "loader2") is None
    assert hall.send_command.sent == []  # the dispatcher would refuse a retired lock anyway
    ended = s.scalars(
        select(AuditRecord)
        .where(AuditRecord.action == "branch.vein_enrolment_ended")
        .order_by(AuditRecord.id)
    ).all()
    assert [(a.object_id, a.before, a.actor_user_id) for a in ended] == [
        (f"{LOCK}:loader1", {"status": "revoking"}, None),
        (f"{LOCK}:loader2", {"status": "capturing"}, None),
    ]
    assert all(
        a.after["reason"] == "lock_retired" and a.after["wiped_by"] == "device_decommissioning"
        for a in ended
    )
    pushed = [d for e, d, _r in hall.live.sent if e == vein_records.LIVE_EVENT]
    assert [(d["username"], d["status"], d["reason"]) for d in pushed] == [
        ("loader1", "ended", "lock_retired"),
        ("loader2", "ended", "lock_retired"),
    ]
    assert vein_queries.missing_enrolments(s, LOCK, ["loader1", "loader2"]) == [
        "loader1",
        "loader2",
    ]
    assert veins.resend_revocations(s, hall, clock.tick(120))["enrolments_ended"] == 0
    no_biometrics(s)


def test_a_first_request_that_loses_a_race_is_409(api, hall, monkeypatch):
    """Two first requests for one loader on one lock: both find no row, the later insert
    breaks the unique (lock, loader). Simulated in sequence: the second request's lookup misses
    the row, as it would before the first commits (two threads on PostgreSQL:
    test_branch_postgres)."""
    with api.session() as s:
        ready_devices(s)
        consent(s, "loader1")
        loader = user_id(s, "loader1")
        s.commit()
    base = f"/locks/{LOCK}/enrolments"
    api.ok(api.post("teller1", base, {"loader_id": loader}), 202)
    real_row, missed = veins.enrolment_row, []

    def not_committed_yet(session, lock_id, username, *, lock=True):
        if not missed:
            missed.append(username)
            return None
        return real_row(session, lock_id, username, lock=lock)

    monkeypatch.setattr(veins, "enrolment_row", not_committed_yet)
    raced = api.post("teller2", base, {"loader_id": loader})
    assert missed == ["loader1"]
    assert raced.status_code == 409, raced.get_json()
    assert raced.get_json()["error"]["code"] == "enrolment_in_progress"
    assert len(hall.send_command.named("lock.enroll")) == 1
    listed = api.ok(api.get("teller1", base))["items"]
    assert [(i["username"], i["status"]) for i in listed] == [("loader1", "capturing")]
