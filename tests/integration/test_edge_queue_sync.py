"""What the centre did with the edge's kiosk tickets reaches the edge over real brokers
(HTTP call at the centre -> hall -> device hub -> ``queue.sync`` on the central broker -> the
edge agent's local queue), on the embedded amqtt brokers and on Mosquitto (a central one with
the deploy ACL, a branch one with the registry's password hashes): a kiosk ticket issued at the
edge and called by staff at the centre is not called again by the edge once its uplink is down;
a device cannot forge the sync; nothing echoes back to the centre."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy import func, select

from backend.branch.models import ServiceLeg, Ticket
from backend.devices import service as devices_service
from backend.devices.secretbox import SecretBox
from edge.protocol import default_edge_id, encode, format_ts, make_envelope
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import Api
from tests.iot_support import (
    add_branch,
    amqtt_central,
    branch_mosquitto,
    iot_rig,
    mosquitto_central,
    unique_branch,
    wait_for,
)

branch_seeded_db = support.branch_seeded_db  # fixture
hall_url = support.hall_url  # fixture

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def brokers(request) -> str:
    return request.param


def test_a_kiosk_ticket_called_at_the_centre_is_not_called_again_by_the_offline_edge(
    make_app, hall_url, tmp_path, brokers
):
    app = make_app(hall_url, seeded=False)
    api = Api(app)
    branch = unique_branch()
    identities = add_branch(app, branch, {"kiosk": 1, "caller": 1}, tmp_path / "creds.json")
    kiosk_id = next(i.device_id for i in identities if i.device_type == "kiosk")
    caller_id = next(i.device_id for i in identities if i.device_type == "caller")
    edge_id = default_edge_id(branch)
    base = f"/branches/{branch}"
    api.ok(api.send("PUT", "admin", f"{base}/services", {"services": ["cash"]}))
    # window 1 has the caller device (the edge serves it); staff call at window 5 (the centre)
    api.ok(
        api.send("PUT", "admin", f"{base}/counters/1", {"skills": ["cash"], "device_id": caller_id})
    )
    api.ok(api.send("PUT", "admin", f"{base}/counters/5", {"skills": ["cash"]}))
    api.ok(api.post("admin", f"{base}/counters/5/status", {"status": "open"}))

    def centre_tickets() -> dict[str, Ticket]:
        with app.extensions["finedge"].session_factory() as session:
            rows = session.scalars(select(Ticket).where(Ticket.branch_id == branch))
            return {t.ticket_no: t for t in rows}

    with ExitStack() as stack:
        if brokers == "amqtt":
            central, branch_url = stack.enter_context(amqtt_central(branch)), None
        else:
            central = stack.enter_context(mosquitto_central(tmp_path / "central", branch))
            ext = app.extensions["finedge"]
            with ext.session_factory() as session:
                registry = devices_service.branch_registry(
                    session, SecretBox(ext.config.secret_key), branch
                )
            branch_url = stack.enter_context(
                branch_mosquitto(tmp_path / "branch", branch, registry["devices"])
            )
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.branch_url = branch_url
        rig.start_hub()
        edge = rig.start_edge()
        rig.start_fleet(identities)
        rig.wait_live()
        kiosk, caller = rig.device(kiosk_id), rig.device(caller_id)
        wait_for(lambda: edge.queue.counter_map is not None, 15, "the counter map at the edge")

        kiosk.request_ticket("cash")
        kiosk.request_ticket("cash")
        wait_for(lambda: len(kiosk.printed) == 2, 15, "two kiosk tickets printed")
        assert [t["ticket_no"] for t in kiosk.printed] == ["A001", "A002"]
        wait_for(lambda: {"A001", "A002"} <= set(centre_tickets()), 15, "reconciled")

        # a device forging the centre's sync on the branch broker: refused by the broker's ACL,
        # and the edge takes queue.sync only from the central broker anyway
        a2 = edge.queue.ticket("A002")
        forged = {
            "full": True,
            "tickets": [
                {
                    "ticket_no": "A002",
                    "issued_at": a2.issued_at,
                    "status": "done",
                    "service": "cash",
                    "counter_id": "5",
                    "at": format_ts(edge.now()),
                }
            ],
        }
        kiosk.inject_raw(
            "event",
            encode(make_envelope("queue.sync", forged, 1)),
            topic=f"fe/v1/{branch}/edge/{edge_id}/queue/sync",
        )
        assert kiosk.flush(10)

        called = api.ok(api.post("admin", f"{base}/counters/5/call-next"))["called"]
        assert called["ticket_no"] == "A001"
        wait_for(
            lambda: [t.ticket_no for t in edge.queue.waiting()] == ["A002"],
            15,
            "the centre's call reached the edge",
        )
        synced = edge.queue.ticket("A001")
        assert (synced.status, synced.counter_id) == ("called", "5")
        assert edge.stats["queue_sync_refused"] == 0 and edge.stats["errors"] == 0

        # the uplink drops; the edge serves window 1 on its own
        central.stop()
        wait_for(lambda: not edge.uplink_live, 15, "uplink down")
        caller.call_next()
        wait_for(lambda: caller.state["serving"] == "A002", 15, "A002 called offline")
        kiosk.request_ticket("cash")
        wait_for(lambda: len(kiosk.printed) == 3, 15, "a ticket printed offline")
        assert (kiosk.printed[2]["ticket_no"], kiosk.printed[2]["position"]) == ("A003", 1)
        caller.call_next()
        wait_for(lambda: caller.state["serving"] == "A003", 15, "A003 called offline")
        caller.call_next()
        wait_for(lambda: edge.queue.ticket("A003").status == "done", 15, "A003 finished")
        wait_for(lambda: caller.state["serving"] is None, 15, "nobody left for window 1")
        assert edge.queue.ticket("A001").status == "called"  # never called again by the edge

        # the uplink returns: the centre hears the edge's calls, and A001 was called once
        central.start()
        wait_for(lambda: edge.uplink_live, 20, "uplink back")
        wait_for(
            lambda: (
                centre_tickets().get("A003") is not None
                and centre_tickets()["A003"].status == "done"
            ),
            20,
            "the edge's offline calls reconciled",
        )
        final = centre_tickets()
        assert (final["A001"].status, final["A001"].counter_id) == ("called", "5")
        assert (final["A002"].status, final["A002"].counter_id) == ("done", "1")
        with app.extensions["finedge"].session_factory() as session:
            legs = session.scalar(
                select(func.count(ServiceLeg.id)).where(ServiceLeg.ticket_id == final["A001"].id)
            )
        assert legs == 1

        # no echo: the edge sent the centre its own changes only, never A001's call
        def queue_events() -> list[tuple[str, str]]:
            return [
                (m.type, m.data["ticket_no"])
                for m in rig.messages(edge_id)
                if m.type.startswith("queue.")
            ]

        wait_for(lambda: len(queue_events()) >= 7, 20, "the edge's queue events stored")
        assert sorted(queue_events()) == sorted(
            [
                ("queue.ticket_issued", "A001"),
                ("queue.ticket_issued", "A002"),
                ("queue.ticket_called", "A002"),
                ("queue.ticket_issued", "A003"),
                ("queue.ticket_done", "A002"),
                ("queue.ticket_called", "A003"),
                ("queue.ticket_done", "A003"),
            ]
        )
        assert edge.stats["queue_syncs"] >= 1 and edge.queue.ticket("A001").status == "called"
