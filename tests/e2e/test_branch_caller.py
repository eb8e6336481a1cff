"""Online-first calling over real MQTT: the simulated caller at window 1 presses "call next"
while the branch is online; the edge forwards the press and does not call locally, the centre
calls the mini-program client who checked in (a ticket the edge's local queue never had), and
the caller and the hall display show it (centre -> central broker -> edge -> devices).

Runs on SQLite with the embedded amqtt brokers and on the machine's PostgreSQL and Mosquitto
(``hall_stack``; skipped with the reason where they are absent)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import Api, HallStack
from tests.iot_support import add_branch, hall_brokers, iot_rig, unique_branch, wait_for

branch_seeded_db = support.branch_seeded_db  # fixture
hall_url = support.hall_url  # fixture
hall_stack = support.hall_stack  # fixture: sqlite-amqtt, postgres-mosquitto

pytestmark = pytest.mark.timeout(120)


def test_the_callers_button_calls_a_mini_program_ticket_while_online(
    make_app, hall_stack: HallStack, tmp_path
):
    app = make_app(hall_stack.database_url, seeded=False)
    api = Api(app)
    branch = unique_branch()
    identities = add_branch(app, branch, {"caller": 1, "display": 1}, tmp_path / "creds.json")
    caller_id = next(i.device_id for i in identities if i.device_type == "caller")
    display_id = next(i.device_id for i in identities if i.device_type == "display")
    api.ok(api.send("PUT", "admin", f"/branches/{branch}/services", {"services": ["cash"]}))
    api.ok(
        api.send(
            "PUT",
            "admin",
            f"/branches/{branch}/counters/1",
            {"skills": ["cash"], "device_id": caller_id},
        )
    )
    api.ok(api.post("admin", f"/branches/{branch}/counters/1/status", {"status": "open"}))
    remote = api.ok(api.post("client1", f"/branches/{branch}/tickets", {"service": "cash"}), 201)
    assert remote["ticket_no"].startswith("RA")
    code = api.ok(api.get("admin", f"/branches/{branch}/presence-code"))["code"]  # the display's
    api.ok(
        api.post(
            "client1",
            f"/branches/{branch}/tickets/{remote['ticket_no']}/check-in",
            {"presence_code": code},
        )
    )

    with ExitStack() as stack:
        central, branch_url = stack.enter_context(
            hall_brokers(hall_stack.brokers, app, tmp_path, branch)
        )
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.branch_url = branch_url
        rig.start_hub()
        edge = rig.start_edge()
        rig.start_fleet(identities)
        rig.wait_live()
        caller, display = rig.device(caller_id), rig.device(display_id)
        assert caller.config["counter_id"] == "1"

        caller.call_next()
        wait_for(lambda: caller.state["serving"] == remote["ticket_no"], 20, "the caller shows it")
        wait_for(
            lambda: (
                {"ticket_no": remote["ticket_no"], "counter_id": "1"}
                in display.state.get("calls", [])
            ),
            20,
            "the display shows it",
        )
        queue = api.ok(api.get("admin", f"/branches/{branch}/queue"))
        ticket = next(t for t in queue["serving"] if t["ticket_no"] == remote["ticket_no"])
        assert ticket["status"] == "called" and ticket["counter_id"] == "1"
        wait_for(lambda: edge.stats["calls_answered_by_centre"] == 1, 10, "answer correlated")
        assert edge.stats["calls_local_fallback"] == 0
        assert edge.queue.waiting() == [] and edge.queue.ticket(remote["ticket_no"]) is None
