"""The hall display's queue board over real MQTT (HTTP -> hall -> signed ``display.queue`` ->
central broker -> branch edge -> the simulated display): the display gets the current board
when it comes online, a ticket issued over HTTP shows up on it, and after a call (two changes
within the same second, coalesced) the board ends on the final state.

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


def _service(display, code: str) -> dict | None:
    board = display.state.get("board") or {}
    return next((s for s in board.get("services", []) if s["service"] == code), None)


def test_ticket_issued_over_http_shows_on_the_display_board(
    make_app, hall_stack: HallStack, tmp_path
):
    app = make_app(hall_stack.database_url, seeded=False)
    api = Api(app)
    branch = unique_branch()
    identities = add_branch(app, branch, {"display": 1}, tmp_path / "creds.json")
    display_id = identities[0].device_id
    api.ok(api.send("PUT", "admin", f"/branches/{branch}/services", {"services": ["cash"]}))
    api.ok(api.send("PUT", "admin", f"/branches/{branch}/counters/1", {"skills": ["cash"]}))
    api.ok(api.post("admin", f"/branches/{branch}/counters/1/status", {"status": "open"}))

    with ExitStack() as stack:
        central, branch_url = stack.enter_context(
            hall_brokers(hall_stack.brokers, app, tmp_path, branch)
        )
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.branch_url = branch_url
        rig.start_hub()
        rig.start_edge()
        rig.start_fleet(identities)
        rig.wait_live()
        display = rig.device(display_id)
        # its birth: the current (empty) board
        wait_for(lambda: _service(display, "cash") is not None, 20, "the board at birth")
        assert _service(display, "cash")["waiting"] == 0 and display.state["board"]["serving"] == []

        ticket = api.ok(api.post("admin", f"/branches/{branch}/tickets", {"service": "cash"}), 201)
        wait_for(
            lambda: (_service(display, "cash") or {}).get("next") == [ticket["ticket_no"]],
            20,
            "the ticket on the display's board",
        )
        assert _service(display, "cash")["waiting"] == 1
        assert _service(display, "cash")["letter"] == "A"

        second = api.ok(api.post("admin", f"/branches/{branch}/tickets", {"service": "cash"}), 201)
        api.ok(api.post("admin", f"/branches/{branch}/counters/1/call-next"))
        final = [{"counter_id": "1", "ticket_no": ticket["ticket_no"]}]
        wait_for(lambda: display.state["board"]["serving"] == final, 20, "the call on the board")
        queue = api.ok(api.get("admin", f"/branches/{branch}/queue"))
        # the board with the call may be followed by a later one (the queue's latest version)
        wait_for(
            lambda: display.state["board"]["version"] == queue["version"],
            20,
            "the queue's latest board on the display",
        )
        assert display.state["board"]["serving"] == final
        assert _service(display, "cash")["next"] == [second["ticket_no"]]

        # the display acknowledged every board and told the centre what it showed
        assert display.acks and all(a.status == "ok" for a in display.acks)
        wait_for(
            lambda: any(m.type == "display.board_shown" for m in rig.messages(display_id)),
            20,
            "display.board_shown at the centre",
        )
