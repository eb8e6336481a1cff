"""The hall over HTTP: contract endpoints and shapes, two users for every object (another
branch's teller and another client get 404), flow statistics and chart, fleet rollouts with
rollback, cash tasks with maker-checker, face consent."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import select

from backend.branch import events
from backend.branch.models import HallCounter, Ticket
from backend.branch.queue import service as queue
from backend.devices.models import Device
from backend.identity.models import User
from edge.protocol import make_envelope
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import (
    ready_devices,
)

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_url = support.hall_url  # fixture


B = "BR001"


def test_contract_ticket_queue_and_call_next(api, hall, clock):
    r = api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "cash"}), 201)
    assert {"ticket_no", "position", "estimated_wait_s"} <= set(r)
    assert r["status"] == "remote" and isinstance(r["estimated_wait_s"], int)
    staff = api.ok(api.get("teller1", f"/branches/{B}/queue"))
    assert {"services", "counters", "tickets", "serving"} <= set(staff)
    assert [t["ticket_no"] for t in staff["tickets"]][:1]  # the seeded demo tickets wait
    mine = api.ok(api.get("client1", f"/branches/{B}/queue"))
    assert "tickets" not in mine and [t["ticket_no"] for t in mine["mine"]] == [r["ticket_no"]]
    code = api.ok(api.get("teller1", f"/branches/{B}/presence-code"))["code"]  # the display's
    api.ok(
        api.post(
            "client1", f"/branches/{B}/tickets/{r['ticket_no']}/check-in", {"presence_code": code}
        )
    )
    called = api.ok(api.post("teller1", f"/branches/{B}/counters/1/call-next"))
    assert called["called"]["status"] == "called" and called["counter"]["counter_id"] == "1"
    assert called["called"]["ticket_no"] == r["ticket_no"]  # a VIP, checked in
    recall = api.ok(api.post("teller1", f"/branches/{B}/counters/1/recall"))
    assert recall["called"]["recalls"] == 1
    moved = api.ok(
        api.post(
            "teller1",
            f"/branches/{B}/counters/1/transfer",
            {"service": "loan", "return_after": True},
        )
    )
    assert moved["transferred"]["service"] == "loan"
    bad = api.post("teller1", f"/branches/{B}/counters/1/transfer", {"service": "pawn"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "validation_error"
    idle = api.post("teller1", f"/branches/{B}/counters/1/no-show")
    assert idle.status_code == 422 and idle.get_json()["error"]["code"] == "counter_idle"


def test_other_branch_and_other_client_get_404(api):
    r = api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "loan"}), 201)
    for path in (
        f"/branches/{B}/queue",
        f"/branches/{B}/tickets/{r['ticket_no']}",
        f"/branches/{B}/flow",
    ):
        assert api.get("teller9", path).status_code == 404, path
    for path in (f"/branches/{B}/counters/1/call-next", f"/branches/{B}/tickets"):
        resp = api.post("teller9", path, {"service": "cash"} if path.endswith("tickets") else {})
        assert resp.status_code == 404, path
    assert api.get("client2", f"/branches/{B}/tickets/{r['ticket_no']}").status_code == 404
    cancel = api.post("client2", f"/branches/{B}/tickets/{r['ticket_no']}/cancel")
    assert cancel.status_code == 404
    assert api.get("client1", "/branches/NOPE/queue").status_code == 404
    assert api.post("client1", f"/branches/{B}/counters/1/call-next").status_code == 404
    assert api.get("client1", f"/branches/{B}/tickets/{r['ticket_no']}").status_code == 200


def test_idempotency_key_returns_the_same_ticket(api):
    headers = {"Idempotency-Key": "k-1"}
    a = api.ok(
        api.post("teller1", f"/branches/{B}/tickets", {"service": "cash"}, headers=headers), 201
    )
    b = api.ok(
        api.post("teller1", f"/branches/{B}/tickets", {"service": "cash"}, headers=headers), 201
    )
    assert a["ticket_no"] == b["ticket_no"]
    reused = api.post("teller1", f"/branches/{B}/tickets", {"service": "loan"}, headers=headers)
    assert reused.status_code == 409


def test_flow_statistics_chart_and_page(api, hall, clock, hall_app):
    with api.session() as s:  # only today's (the test clock's) tickets
        s.query(HallCounter).update({"current_ticket_id": None})
        s.query(Ticket).delete()
        s.commit()
    for counter in ("1", "2"):  # shifts on the test clock
        for status in ("closed", "open"):
            api.ok(
                api.post("teller1", f"/branches/{B}/counters/{counter}/status", {"status": status})
            )
    for service in ("cash", "cash", "account", "loan"):
        api.ok(api.post("teller1", f"/branches/{B}/tickets", {"service": service}), 201)
        clock.tick(30)
    with api.session() as s:
        teller = s.scalar(select(User).where(User.username == "teller1"))
        from backend.identity.service import actor_for

        for _ in range(4):
            clock.tick(240)
            queue.call_next(s, actor_for(teller), hall, B, "1")
            queue.call_next(s, actor_for(teller), hall, B, "2")
        queue.issue_ticket(s, actor_for(teller), hall, B, "cash")
        queue.call_next(s, actor_for(teller), hall, B, "1")
        queue.no_show(s, actor_for(teller), hall, B, "1")
        env = make_envelope(
            "counter.transaction",
            {"type": "transfer", "result": "ok", "session_id": "x", "duration_s": 60},
            1,
            now=clock(),
        )
        events.on_device_event(s, B, "counter", "BR001-CNT-01", env, hall=hall)
        s.commit()
    stats = api.ok(api.get("teller1", f"/branches/{B}/flow"))
    assert stats["day"] == "2026-03-02" and sum(stats["arrivals_per_hour"]) == stats["arrivals"]
    assert stats["served"] >= 4 and stats["wait_s"]["p50"] is not None
    assert stats["abandonment"]["no_show"] == 1
    assert stats["smart_counters"]["transactions"] == 1
    assert 0 < stats["smart_counters"]["off_counter_rate"] < 1
    assert any(c["utilisation"] for c in stats["counters"])
    png = api.get("teller1", f"/branches/{B}/flow/chart.png")
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    page = api.get("teller1", f"/branches/{B}/flow/page?day=2026-03-02")
    assert page.status_code == 200 and b"data:image/png;base64," in page.data
    off = api.ok(api.get("teller1", f"/branches/{B}/off-counter?from=2026-03-01&to=2026-03-02"))
    assert off["smart_transactions"] == 1 and len(off["days"]) == 2
    assert api.get("teller1", f"/branches/{B}/flow?day=yesterday").status_code == 400


def test_fleet_template_staged_rollout_and_rollback(api):
    model = "SC-3000 smart counter"
    with api.session() as s:
        s.execute(
            Device.__table__.update()
            .where(Device.device_id == "BR001-CNT-01")
            .values(desired={"idle_timeout_s": 120}, desired_version=1)
        )
        s.commit()
    t = api.ok(
        api.post(
            "admin",
            "/fleet/templates",
            {
                "model": model,
                "name": "hall",
                "params": {"idle_timeout_s": 60, "services": ["transfer"]},
            },
        ),
        201,
    )
    assert t["version"] == 1
    assert (
        api.post(
            "teller1", "/fleet/templates", {"model": model, "name": "x", "params": {"a": 1}}
        ).status_code
        == 403
    )
    r = api.ok(
        api.post("admin", "/fleet/rollouts", {"template_id": t["id"], "percentage": 33}), 201
    )
    assert r["status"] == "running" and r["health"]["applied"] == 1
    first = r["devices"][0]["device_id"]
    conflict = api.post("admin", "/fleet/rollouts", {"template_id": t["id"], "percentage": 50})
    assert conflict.status_code == 409
    grown = api.ok(api.post("admin", f"/fleet/rollouts/{r['id']}/advance", {"percentage": 100}))
    assert grown["status"] == "completed" and grown["health"]["applied"] == 3
    assert grown["devices"][0]["device_id"] == first  # the first stage stays in
    with api.session() as s:
        cnt1 = s.scalar(select(Device).where(Device.device_id == "BR001-CNT-01"))
        assert cnt1.desired == {"idle_timeout_s": 60, "services": ["transfer"]}
    back = api.ok(api.post("admin", f"/fleet/rollouts/{r['id']}/rollback"))
    assert back["status"] == "rolled_back" and back["health"]["rolled_back"] == 3
    with api.session() as s:
        cnt1 = s.scalar(select(Device).where(Device.device_id == "BR001-CNT-01"))
        assert cnt1.desired == {"idle_timeout_s": 120}
    overview = api.ok(api.get("teller1", f"/branches/{B}/fleet"))
    assert overview["models"][model]["devices"] == 3
    assert api.get("teller9", f"/branches/{B}/fleet").status_code == 404


def test_cash_task_endpoints(api, clock):
    with api.session() as s:
        ready_devices(s)
        loaders = [
            s.scalar(select(User.id).where(User.username == u)) for u in ("loader1", "loader2")
        ]
        s.commit()
    body = {
        "device_id": "BR001-ATM-01",
        "loaders": loaders,
        "window_start": clock().isoformat(),
        "window_end": (clock() + timedelta(hours=2)).isoformat(),
        "amounts": {"100.00": "20000.00"},
    }
    task = api.ok(api.post("teller1", "/cash-tasks", body), 201)
    assert task["status"] == "planned" and task["total"] == "20000.00"
    assert api.post("teller1", f"/cash-tasks/{task['id']}/approve").status_code == 403
    assert api.get("teller9", f"/cash-tasks/{task['id']}").status_code == 404
    assert api.get("client1", f"/cash-tasks/{task['id']}").status_code == 404
    assert api.post("teller9", f"/cash-tasks/{task['id']}/approve").status_code == 404
    approved = api.ok(api.post("teller2", f"/cash-tasks/{task['id']}/approve"))
    assert approved["status"] == "approved"
    listed = api.ok(api.get("teller1", "/cash-tasks?status=approved"))
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    assert api.ok(api.get("teller9", "/cash-tasks"))["items"] == []
    bad = api.post("teller1", "/cash-tasks", {**body, "amounts": {"100.00": 20000.0}})
    assert bad.status_code == 400
    cancelled = api.ok(api.post("teller2", f"/cash-tasks/{task['id']}/cancel", {"reason": "x"}))
    assert cancelled["status"] == "cancelled"


def test_face_consent_over_http(api):
    assert api.ok(api.get("client2", "/face/consent"))["status"] == "none"
    refused = api.post("client2", "/face/enrol", {"encoding": [0.12] * 128})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "consent_required"
    api.ok(api.post("client2", "/face/consent", {}))
    enrolled = api.ok(api.post("client2", "/face/enrol", {"encoding": [0.12] * 128}), 201)
    assert enrolled["encodings"] == 1
    not_image = api.post(
        "client2", "/face/enrol", {"image": base64.b64encode(b"not an image").decode()}
    )
    assert not_image.status_code == 400
    assert api.ok(api.get("client1", "/face/consent"))["encodings"] == 0  # only one's own
    gone = api.ok(api.post("client2", "/face/consent/withdraw"))
    assert gone["status"] == "withdrawn" and gone["encodings"] == 0
    assert api.post("teller1", "/face/consent", {}).status_code == 403
    assert (
        api.send("PATCH", "admin", f"/branches/{B}/settings", {"face_tolerance": 0.5}).status_code
        == 200
    )
    assert (
        api.send("PATCH", "admin", f"/branches/{B}/settings", {"face_tolerance": 0.95}).status_code
        == 400
    )


NOT_FACES = [  # (encoding, the rule it breaks)
    ([1e308] * 128, "component_out_of_range"),
    ([3.0] + [0.0] * 127, "component_out_of_range"),
    ([0.0] * 128, "norm_out_of_range"),
    ([0.5] * 128, "norm_out_of_range"),
    ([0.01] * 128, "norm_out_of_range"),
    ([0.12] * 129, "wrong_length"),
    ([0.12] * 127, "wrong_length"),
    ([], "wrong_length"),
]


def test_face_enrolment_refuses_what_is_not_a_face_encoding(api):
    """[1e308]*128 (its distances overflow to NaN), NaN, ±inf, the zero vector, wrong lengths
    and absurd values are refused at enrolment with the contract's error shape."""
    api.ok(api.post("client2", "/face/consent", {}))
    for encoding, reason in NOT_FACES:
        answer = api.post("client2", "/face/enrol", {"encoding": encoding})
        assert answer.status_code == 400, (reason, answer.get_json())
        error = answer.get_json()["error"]
        if encoding and abs(encoding[0]) >= 2**63:
            # The strict JSON parser refuses such a number before any view sees it;
            # tests/unit/test_branch_face_vectors.py covers the encoding rule itself.
            assert error["code"] == "number_out_of_range", reason
            continue
        assert error["code"] == "invalid_encoding", reason
        assert error["details"] == {"encoding": [reason]}
        assert "1e+308" not in answer.get_data(as_text=True)
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = '{"encoding": [' + ", ".join([literal] + ["0.12"] * 127) + "]}"
        answer = api.client.post(
            "/api/v1/face/enrol",
            data=body,
            headers={**api.headers("client2"), "Content-Type": "application/json"},
        )
        assert answer.status_code == 400, (literal, answer.get_json())
        error = answer.get_json()["error"]
        # the strict JSON parser refuses the literal itself (backend/platform/strict_json.py)
        assert error["code"] == "non_finite_number", error
    assert api.ok(api.get("client2", "/face/consent"))["encodings"] == 0


def test_my_tickets_are_mine_only_newest_first_and_ended_ones_fade(api, clock):
    cash = api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "cash"}), 201)
    loan = api.ok(api.post("client1", f"/branches/{B}/tickets", {"service": "loan"}), 201)
    other = api.ok(api.post("client2", f"/branches/{B}/tickets", {"service": "cash"}), 201)
    api.ok(api.post("client1", f"/branches/{B}/tickets/{loan['ticket_no']}/cancel"))

    mine = api.ok(api.get("client1", "/tickets/mine"))
    assert [(t["ticket_no"], t["status"]) for t in mine["items"]] == [
        (loan["ticket_no"], "cancelled"),
        (cash["ticket_no"], "remote"),
    ]
    assert mine["next_cursor"] is None
    open_one = mine["items"][1]
    assert open_one["branch_id"] == B and isinstance(open_one["position"], int)
    assert isinstance(open_one["estimated_wait_s"], int)
    assert mine["items"][0]["position"] is None  # ended: no standing

    theirs = api.ok(api.get("client2", "/tickets/mine"))
    assert [t["ticket_no"] for t in theirs["items"]] == [other["ticket_no"]]
    assert api.ok(api.get("teller1", "/tickets/mine"))["items"] == []

    first = api.ok(api.get("client1", "/tickets/mine?limit=1"))
    assert [t["ticket_no"] for t in first["items"]] == [loan["ticket_no"]]
    rest = api.ok(api.get("client1", f"/tickets/mine?limit=1&cursor={first['next_cursor']}"))
    assert [t["ticket_no"] for t in rest["items"]] == [cash["ticket_no"]]

    # a day later the ended ticket is gone; the open one stays until it ends or expires
    clock.tick(hours=25)
    later = api.ok(api.get("client1", "/tickets/mine"))
    assert [t["ticket_no"] for t in later["items"]] == [cash["ticket_no"]]
    assert api.get("client1", "/tickets/mine?limit=0").status_code == 400
