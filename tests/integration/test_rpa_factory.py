"""The robot factory's core on both databases: deploy and roll back, runs produced and drained,
retries by failure kind, maker-checker reviews, chains, leases, and department isolation over
HTTP with two users."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from backend.platform.errors import Conflict
from backend.rpa import registry, service
from backend.rpa.drain import drain
from backend.rpa.models import Review, RobotRecord, Run, RunLog, WorkItem
from tests.api_client import ApiClient

FAST = {"rpa_backoff_s": 0.01, "rpa_lease_s": 1.0, "rpa_heartbeat_s": 0.2}


@pytest.fixture
def factory(make_app, db_url):
    app = make_app(db_url, **FAST)
    runtime = app.extensions["finedge"].runtime
    with session_scope(runtime.session_factory) as s:
        for ep in (
            "tests.rpa.robots:ECHO",
            "tests.rpa.robots:SINK",
            "tests.rpa.robots:FINANCE",
            "tests.rpa.robots:SHORT",
        ):
            registry.deploy(s, SYSTEM, ep)
    return app, runtime


def _run(runtime, name, **params) -> int:
    with session_scope(runtime.session_factory) as s:
        run = service.start_run(s, SYSTEM, name, params=params)
        s.flush()
        run_id = run.id
    drain(runtime.session_factory, runtime.config, timeout_s=30)
    return run_id


def _items(runtime, run_id):
    with runtime.session_factory() as s:
        return s.scalars(
            select(WorkItem).where(WorkItem.run_id == run_id).order_by(WorkItem.id)
        ).all()


def test_a_run_produces_items_and_every_one_is_done(factory):
    _app, runtime = factory
    run_id = _run(runtime, "tst_echo", n=4)
    items = _items(runtime, run_id)
    assert [i.state for i in items] == ["DONE"] * 4
    assert [i.result["twice"] for i in items] == [0, 2, 4, 6]
    assert all(i.attempts == 1 for i in items)
    with runtime.session_factory() as s:
        run = s.get(Run, run_id)
        assert (run.status, run.items_total, run.items_done) == ("done", 4, 4)
        assert s.scalar(select(RunLog.id).where(RunLog.run_id == run_id).limit(1))


def test_an_application_failure_is_retried_with_back_off_and_then_done(factory):
    _app, runtime = factory
    items = _items(runtime, _run(runtime, "tst_echo", n=2, mode="flaky"))
    assert [(i.state, i.attempts) for i in items] == [("DONE", 3), ("DONE", 3)]


def test_retries_used_up_fail_the_item_as_application(factory):
    _app, runtime = factory
    run_id = _run(runtime, "tst_echo", n=1, mode="always_down")
    [item] = _items(runtime, run_id)
    assert (item.state, item.failure_kind, item.failure_code, item.attempts) == (
        "FAILED",
        "APPLICATION",
        "system_down",
        4,
    )  # 1 try + max_retries 3
    with runtime.session_factory() as s:
        assert s.get(Run, run_id).status == "failed"
        assert s.scalar(select(Review.id).where(Review.item_id == item.id)) is None


def test_a_business_failure_is_not_retried_and_waits_for_maker_and_checker(factory):
    app, runtime = factory
    run_id = _run(runtime, "tst_echo", n=1, mode="business")
    [item] = _items(runtime, run_id)
    assert (item.state, item.failure_kind, item.attempts) == ("FAILED", "BUSINESS", 1)
    with runtime.session_factory() as s:
        review_id = s.scalar(select(Review.id).where(Review.item_id == item.id))
    api = ApiClient(app)
    c = api.client
    url = f"/api/v1/rpa/reviews/{review_id}"
    r = c.post(
        f"{url}/propose",
        headers=api.headers("ops1"),
        json={"action": "retry", "corrected_payload": {"n": 7, "mode": "ok"}},
    )
    assert r.status_code == 200, r.get_json()
    # the maker may not check their own proposal; another department does not see it
    assert (
        c.post(f"{url}/check", headers=api.headers("ops1"), json={"approve": True}).status_code
        == 403
    )
    assert (
        c.post(f"{url}/check", headers=api.headers("fin1"), json={"approve": True}).status_code
        == 404
    )
    r = c.post(f"{url}/check", headers=api.headers("ops2"), json={"approve": True})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "resolved"
    drain(runtime.session_factory, runtime.config, timeout_s=30)
    items = _items(runtime, run_id)
    assert [(i.state, i.payload["n"]) for i in items] == [("FAILED", 0), ("DONE", 7)]
    assert items[1].parent_item_id == items[0].id


def test_an_item_emits_to_the_next_robot_of_its_chain(factory):
    _app, runtime = factory
    _run(runtime, "tst_echo", n=2, mode="emit")
    with runtime.session_factory() as s:
        sink = s.scalar(select(RobotRecord).where(RobotRecord.name == "tst_sink"))
        done = s.scalars(select(WorkItem).where(WorkItem.robot_id == sink.id)).all()
        assert sorted(i.result["n"] for i in done) == [0, 10]
        assert all(i.state == "DONE" and i.parent_item_id for i in done)


def test_a_dead_workers_item_is_returned_after_its_lease_and_done_once(factory):
    _app, runtime = factory
    with session_scope(runtime.session_factory) as s:
        item = service.queue_item(s, SYSTEM, "tst_echo", {"n": 5, "mode": "ok"})
        s.flush()
        item_id = item.id
        # a worker took it, then died: no heartbeat since
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id)
            .values(
                state="RESERVED",
                attempts=1,
                lease_token="dead",
                reserved_by="gone:1",
                heartbeat_at=utcnow() - timedelta(seconds=5),
            )
        )
    drain(runtime.session_factory, runtime.config, timeout_s=5)  # the message finds it taken
    with runtime.session_factory() as s:
        assert s.get(WorkItem, item_id).state == "RESERVED"
    runtime.run_job("rpa.reap")
    drain(runtime.session_factory, runtime.config, timeout_s=30)
    with runtime.session_factory() as s:
        item = s.get(WorkItem, item_id)
        assert (item.state, item.attempts, item.result["n"]) == ("DONE", 2, 5)


def test_a_late_finish_after_the_lease_was_lost_rolls_back(factory):
    _app, runtime = factory
    # tst_short times out after 1 s; in-process the watchdog records it without killing, and
    # the robot's own finish 1.5 s later is refused by the lease check
    run_id = _run(runtime, "tst_short", n=1, mode="sleep", seconds=1.5)
    [item] = _items(runtime, run_id)
    assert (item.state, item.failure_code, item.attempts) == ("FAILED", "timeout", 2)


def test_rollback_and_disable(factory):
    _app, runtime = factory
    with session_scope(runtime.session_factory) as s:
        registry.deploy(s, SYSTEM, "tests.rpa.robots:ECHO_V2")
    with session_scope(runtime.session_factory) as s, pytest.raises(Conflict):
        registry.deploy(s, SYSTEM, "tests.rpa.robots:ECHO_CLONE")  # 1.0.0 from other code
    with session_scope(runtime.session_factory) as s:
        assert registry.rollback(s, SYSTEM, "tst_echo").version == "1.0.0"
        registry.set_enabled(s, SYSTEM, "tst_echo", False)
    with session_scope(runtime.session_factory) as s, pytest.raises(Conflict):
        service.start_run(s, SYSTEM, "tst_echo")


def test_departments_see_only_their_robots_runs_and_items(factory):
    app, _runtime = factory
    api = ApiClient(app)
    c = api.client
    names = {
        r["name"]
        for r in c.get("/api/v1/rpa/robots", headers=api.headers("ops1")).get_json()["items"]
    }
    assert "tst_echo" in names and "tst_finance" not in names
    names = {
        r["name"]
        for r in c.get("/api/v1/rpa/robots", headers=api.headers("fin1")).get_json()["items"]
    }
    assert names >= {"tst_finance"} and "tst_echo" not in names
    r = c.post("/api/v1/rpa/robots/tst_finance/runs", headers=api.headers("ops1"), json={})
    assert r.status_code == 404
    r = c.post(
        "/api/v1/rpa/robots/tst_finance/runs",
        headers=api.headers("fin1"),
        json={"params": {"n": 1}},
    )
    assert r.status_code == 201, r.get_json()
    assert c.get("/api/v1/rpa/robots", headers=api.headers("dealer1")).status_code == 403
    assert (
        c.post("/api/v1/rpa/robots/tst_echo/disable", headers=api.headers("ops1")).status_code
        == 403
    )
    r = c.post(
        "/api/v1/rpa/robots/tst_echo/items",
        headers=api.headers("ops1"),
        json={"payload": {"n": "x", "mode": "ok"}},
    )
    assert r.status_code == 400
