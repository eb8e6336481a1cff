"""The device hub's refresh is incremental (issue 12, scale): an idle pass is one query of the
branch change journal (backend/platform/changes.py) whatever the number of branches and
devices; a change re-reads only its branch; the whole pass runs after a (re)connect. On SQLite
and PostgreSQL, no broker (the hub's ``publish`` is recorded)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from backend.devices import service
from backend.devices.models import Device, device_row
from backend.devices.secretbox import SecretBox
from backend.identity import service as identity
from backend.platform import changes
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from backend.platform.live import RecordingEmitter
from backend.roles.hub import DeviceHub, HubSettings
from bench.hub_refresh import statements

KEY = "k" * 48
DEVICES = 5


def add_branches(session_factory, first: int, count: int) -> list[str]:
    """``count`` branches of DEVICES devices each (rows written directly: no credentials, which
    the refresh does not need), each announced in the journal as provisioning does."""
    now = utcnow()
    names = [f"R{n:05d}" for n in range(first, first + count)]
    with session_scope(session_factory) as session:
        rows = [
            device_row(
                f"{b}-D{i}",
                b,
                "lock",
                now,
                password_hash="x",
                desired={"n": i} if i == 0 else {},
                desired_version=1 if i == 0 else 0,
            )
            for b in names
            for i in range(DEVICES)
        ]
        session.execute(insert(Device), rows)
        for b in names:
            changes.touch(session, b, "devices")
    return names


def make_hub(session_factory, **settings) -> tuple[DeviceHub, list[tuple[str, bool]]]:
    hub = DeviceHub(
        session_factory,
        RecordingEmitter(),
        KEY,
        "mqtt://127.0.0.1:1",
        HubSettings(**{"recheck_s": 3600, "leases": False, **settings}),
    )
    sent: list[tuple[str, bool]] = []
    hub.publish = lambda topic, payload, qos=1, retain=False, **_kw: sent.append((topic, retain))
    return hub, sent


def idle(published: dict[str, int]) -> bool:
    return not any(published.values())


def test_an_idle_refresh_is_one_query_whatever_the_number_of_devices(session_factory, engine):
    add_branches(session_factory, 0, 20)
    hub, sent = make_hub(session_factory)
    whole = hub.refresh()  # the first pass (after a connect): every branch
    assert whole["registries"] == 20 and whole["desired"] == 20
    with statements(engine) as small:
        assert idle(hub.refresh())
    assert len(small) == 1, small

    add_branches(session_factory, 20, 180)  # ten times the branches and devices
    found = hub.refresh()  # their journal rows: only the new branches are read
    assert found["registries"] == 180 and found["desired"] == 180
    with statements(engine) as large:
        assert idle(hub.refresh())
    assert len(large) == len(small) == 1, large

    hub.resync()  # as after a reconnect: the whole pass, which publishes everything again
    with statements(engine) as full:
        assert hub.refresh()["registries"] == 200
    assert len(full) > 200 * 4  # what every pass cost before the journal
    with statements(engine) as after:
        assert idle(hub.refresh())
    assert len(after) == 1
    assert sent and all(retain for _topic, retain in sent)


def test_a_change_re_reads_its_branch_only(session_factory, engine):
    names = add_branches(session_factory, 0, 30)
    hub, sent = make_hub(session_factory)
    hub.refresh()
    box = SecretBox(KEY)
    with session_scope(session_factory) as session:
        org = identity.get_or_create_org(session, "BRX", "Branch X", "branch", None)
        identity.get_or_create_branch(session, names[7], "Branch 7", org)
        session.flush()
        service.provision_device(
            session, SYSTEM, box, branch_id=names[7], device_type="kiosk", device_id="NEW-K1"
        )
    with session_scope(session_factory) as session:
        service.set_desired(session, SYSTEM, f"{names[3]}-D1", {"volume": 3})
    sent.clear()
    with statements(engine) as stmts:
        published = hub.refresh()
    assert published == {"registries": 2, "desired": 1, "counters": 0, "queue_sync": 0}
    topics = sorted(topic for topic, _retain in sent)
    assert topics == sorted(
        [
            f"fe/v1/{names[3]}/edge/edge-{names[3].lower()}/config/desired",
            f"fe/v1/{names[3]}/lock/{names[3]}-D1/config/desired",
            f"fe/v1/{names[7]}/edge/edge-{names[7].lower()}/config/desired",
        ]
    )
    assert len(stmts) < 30, stmts  # two branches' worth, not thirty
    assert idle(hub.refresh())

    with session_scope(session_factory) as session:  # retiring: the registry changes
        service.change_status(session, SYSTEM, "NEW-K1", "retired")
    assert hub.refresh()["registries"] == 1


def test_the_journal_is_bumped_by_each_writer_and_not_by_a_rollback(session_factory):
    names = add_branches(session_factory, 0, 2)
    box = SecretBox(KEY)

    def seqs() -> dict[tuple[str, str], int]:
        with session_factory() as session:
            return {(m.branch_id, m.topic): m.seq for m in changes.all_marks(session)}

    before = seqs()
    with session_scope(session_factory) as session:
        service.rotate_credentials(session, SYSTEM, box, f"{names[0]}-D2")
    assert seqs()[(names[0], "devices")] == before[(names[0], "devices")] + 1
    with session_scope(session_factory) as session:
        service.change_status(session, SYSTEM, f"{names[0]}-D2", "maintenance")
        service.set_desired(session, SYSTEM, f"{names[0]}-D3", {"a": 1})
    assert seqs()[(names[0], "devices")] == before[(names[0], "devices")] + 3
    with session_factory() as session:
        service.set_desired(session, SYSTEM, f"{names[1]}-D3", {"a": 1})
        session.rollback()
    assert seqs()[(names[1], "devices")] == before[(names[1], "devices")]
    with pytest.raises(ValueError, match="unknown change topic"), session_factory() as session:
        changes.touch(session, names[0], "everything")


def test_only_the_branches_it_serves_and_the_repair_pass(session_factory, engine):
    names = add_branches(session_factory, 0, 12)
    served = set(names[:3])
    hub, _sent = make_hub(session_factory, branches=served, repair_page=2)
    assert hub.refresh()["registries"] == 3
    with session_scope(session_factory) as session:
        service.set_desired(session, SYSTEM, f"{names[5]}-D1", {"x": 1})  # not ours
        service.set_desired(session, SYSTEM, f"{names[1]}-D1", {"x": 1})
    assert hub.refresh()["desired"] == 1

    served.add(names[9])  # a branch becomes ours (a lease taken): it is read wholly, once
    assert hub.refresh()["registries"] == 1
    assert idle(hub.refresh())
    served.discard(names[0])  # and one is no longer ours: forgotten
    assert idle(hub.refresh())
    served.add(names[0])
    assert hub.refresh()["registries"] == 1  # back: published again

    # the repair pass: each branch wholly again every queue_sync_full_s, a page per pass
    hub.settings.queue_sync_full_s = 0
    with statements(engine) as repair:
        assert idle(hub.refresh())  # retained messages unchanged: nothing to send again
    with session_factory() as session:
        reads = [s for s in repair if "FROM devices" in s]
        assert session.scalar(select(Device.id).limit(1)) is not None
    assert 0 < len(reads) <= 2 * 6  # two branches' reads, not four


def test_quick_bench_through_the_cli():
    """``finedge bench hub-refresh --json --quick``: rows in the contract's format (on the
    machine's PostgreSQL, or SQLite said on stderr); no timing asserted."""
    import json

    from click.testing import CliRunner

    from backend.bootstrap import benchmarks
    from backend.cli import main

    assert benchmarks()["hub-refresh"] == "bench.hub_refresh"
    result = CliRunner().invoke(main, ["bench", "hub-refresh", "--json", "--quick"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["metric"] for r in rows] == [
        "idle_refresh_statements",
        "idle_refresh_ms",
        "one_change_refresh_statements",
        "one_change_refresh_ms",
    ]
    keys = {"bench", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "params"}
    for row in rows:
        assert set(row) == keys and row["bench"] == "hub-refresh"
        assert row["value"] > 0 and row["baseline_value"] > 0
    assert rows[0]["value"] == 1  # an idle refresh: the journal query alone
    assert rows[0]["baseline_value"] > 50  # every branch read, as before
