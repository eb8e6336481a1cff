"""Check-in needs proof of presence (backend/branch/queue/presence.py): a client checks in with
the branch's current code from the hall display's QR code; an expired code, another branch's
code, a made-up one or none is refused with the contract's error and changes nothing; the
branch's queue staff check a client in beside them without one; only staff read the code."""

from __future__ import annotations

from sqlalchemy import select

from backend.branch.queue import presence
from backend.platform.audit import AuditRecord
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import SECRET, presence_code

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_factory = support.hall_factory  # fixture
hall_url = support.hall_url  # fixture

B = "BR001"


def _refused(response, status: int, code: str) -> None:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body["error"]) >= {"code", "message", "details"}
    assert body["error"]["code"] == code, body


def _remote(api) -> str:
    return api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "cash"}), 201)[
        "ticket_no"
    ]


def _status(api, ticket_no: str) -> str:
    return api.ok(api.get("client1", f"/branches/{B}/tickets/{ticket_no}"))["status"]


def _check_in(api, ticket_no: str, body: dict | None, user: str = "client1"):
    path = f"/api/v1/branches/{B}/tickets/{ticket_no}/check-in"
    if body is None:  # no body at all
        return api.client.post(path, headers=api.headers(user))
    return api.post(user, f"/branches/{B}/tickets/{ticket_no}/check-in", body)


def test_a_client_checks_in_with_the_displays_current_code(api, hall, clock):
    ticket = _remote(api)
    shown = api.ok(api.get("teller1", f"/branches/{B}/presence-code"))
    assert shown["qr"] == f"finedge://check-in?branch={B}&code={shown['code']}"
    clock.tick(40)  # scanned, and the display moved on meanwhile: still inside the grace
    checked = api.ok(_check_in(api, ticket, {"presence_code": shown["code"]}))
    assert checked["status"] == "waiting"
    with api.app.extensions["finedge"].session_factory() as s:
        record = s.scalar(
            select(AuditRecord).where(AuditRecord.action == "branch.ticket_checked_in")
        )
        assert record.after["presence"] == "qr"


def test_no_code_an_expired_code_another_branchs_code_are_refused(api, hall, clock):
    ticket = _remote(api)
    _refused(_check_in(api, ticket, None), 400, "presence_code_required")
    _refused(_check_in(api, ticket, {}), 400, "presence_code_required")
    _refused(_check_in(api, ticket, {"presence_code": "A" * 16}), 422, "presence_code_invalid")

    old = presence_code(hall, B)
    clock.tick(presence.STEP_S * (presence.GRACE_STEPS + 1))  # 60 s later: past its window
    _refused(_check_in(api, ticket, {"presence_code": old}), 422, "presence_code_invalid")

    other = presence.current_code(SECRET, "BR002", clock.now).code
    _refused(_check_in(api, ticket, {"presence_code": other}), 422, "presence_code_invalid")
    # the code of another process's secret is no better
    forged = presence.current_code("another-secret-key", B, clock.now).code
    _refused(_check_in(api, ticket, {"presence_code": forged}), 422, "presence_code_invalid")
    assert _status(api, ticket) == "remote"  # nothing changed
    assert api.ok(_check_in(api, ticket, {"presence_code": presence_code(hall, B)}))


def test_staff_check_a_client_in_beside_them_and_only_staff_read_the_code(api, hall):
    ticket = _remote(api)
    checked = api.ok(_check_in(api, ticket, {}, user="teller1"))
    assert checked["status"] == "waiting"
    with api.app.extensions["finedge"].session_factory() as s:
        record = s.scalar(
            select(AuditRecord).where(AuditRecord.action == "branch.ticket_checked_in")
        )
        assert record.after["presence"] == "staff" and record.actor_username == "teller1"
    _refused(api.get("client1", f"/branches/{B}/presence-code"), 404, "branch_not_found")


def test_codes_rotate_and_differ_by_branch(clock):
    now = clock.now
    a = presence.current_code(SECRET, B, now)
    assert a.valid_until - a.valid_from == (a.shown_until - a.valid_from) * 2
    assert presence.is_valid(SECRET, B, a.code, a.shown_until)  # grace: the step after
    assert not presence.is_valid(SECRET, B, a.code, a.valid_until)  # never later
    assert presence.current_code(SECRET, B, a.shown_until).code != a.code
    assert presence.current_code(SECRET, "BR002", now).code != a.code
    assert not presence.is_valid(SECRET, B, "", now)
    assert presence.is_valid(SECRET, B, a.code.lower(), now)  # a scanner's case


def test_the_job_sends_each_active_display_the_current_code(hall_factory, hall, clock):
    from backend.branch.queue.pushes import push_presence_codes
    from tests.integration.test_branch_support import set_device

    with hall_factory() as s:
        set_device(s, "BR001-DSP-01")  # born: active
        s.commit()
        assert push_presence_codes(s, hall, clock.now) == 1
        s.commit()  # sent after the commit
    [(device_id, args)] = hall.send_command.named("display.presence")
    shown = presence.current_code(SECRET, B, clock.now)
    assert device_id == "BR001-DSP-01"
    assert args == {"code": shown.code, "qr": shown.qr, "valid_until": "2026-03-02T02:01:00Z"}
    clock.tick(presence.STEP_S)  # the next run sends the next code; this one still counts
    assert presence.is_valid(SECRET, B, args["code"], clock.now)
