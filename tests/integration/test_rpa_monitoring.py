"""The factory's dashboard figures (backend/rpa/monitoring.py) on rows inserted directly,
on SQLite and PostgreSQL: counts, hour buckets, success rates, failure reasons, time saved,
stuck runs, alarms and reviews, each within one department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.platform.context import Actor
from backend.platform.errors import PermissionDenied, ValidationFailed
from backend.rpa import monitoring
from backend.rpa.models import Alarm, Review
from tests.rpa_monitor_support import item, robot, run

NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
ADMIN = Actor(user_id=None, username="admin", role="admin", org_id=None)


@pytest.fixture
def world(session):
    s = session
    h = timedelta(hours=1)
    recon, v_recon = robot(s, "recon_lines", "operations", "12.5", NOW - 48 * h)
    ocr, v_ocr = robot(s, "ocr_documents", "operations", "3", NOW - 48 * h)
    fin, v_fin = robot(s, "fin_close", "finance", "60", NOW - 48 * h)
    # a finished run of recon: 3 DONE (two in the 09:00 hour, one at 08:10), 1 BUSINESS failure
    r1 = run(s, recon, v_recon, NOW - 3 * h, status="partial")
    item(s, r1, "DONE", NOW - timedelta(minutes=75))  # 09:15
    item(s, r1, "DONE", NOW - timedelta(minutes=61))  # 09:29
    item(s, r1, "DONE", NOW - timedelta(minutes=140))  # 08:10
    bad = item(s, r1, "FAILED", NOW - timedelta(minutes=80), kind="BUSINESS", code="no_line")
    s.add(Review(item_id=bad.id, department="operations", status="open", created_at=NOW))
    # an old run outside the 24 h window: counts for nothing
    old = run(s, recon, v_recon, NOW - 30 * h, status="done")
    item(s, old, "DONE", NOW - 30 * h)
    # ocr: a running run, quiet for 45 minutes (stuck), with two APPLICATION failures
    r2 = run(s, ocr, v_ocr, NOW - 2 * h)
    item(s, r2, "FAILED", NOW - timedelta(minutes=50), kind="APPLICATION", code="timeout")
    item(s, r2, "FAILED", NOW - timedelta(minutes=45), kind="APPLICATION", code="timeout")
    item(s, r2, "NEW", NOW - 2 * h)
    # ocr: a running run, active a minute ago, but an item's heartbeat is 5 minutes old
    r3 = run(s, ocr, v_ocr, NOW - timedelta(minutes=10))
    item(s, r3, "RESERVED", NOW - timedelta(minutes=1), heartbeat=NOW - timedelta(minutes=5))
    # ocr: a healthy running run (fresh heartbeat)
    r4 = run(s, ocr, v_ocr, NOW - timedelta(minutes=5))
    item(s, r4, "RESERVED", NOW - timedelta(minutes=2), heartbeat=NOW - timedelta(seconds=4))
    # finance: one DONE item, one stuck run, an alarm and a review
    r5 = run(s, fin, v_fin, NOW - 5 * h)
    fin_item = item(s, r5, "DONE", NOW - 4 * h)
    fin_failed = item(s, r5, "FAILED", NOW - 4 * h, kind="BUSINESS", code="bad_payload")
    s.add(Review(item_id=fin_failed.id, department="finance", status="proposed", created_at=NOW))
    s.add(
        Alarm(
            kind="stuck_run",
            subject=f"run:{r5.id}",
            department="finance",
            robot_id=fin.id,
            message="quiet",
            opened_on="2026-12-05",
            raised_at=NOW - h,
        )
    )
    s.add(
        Alarm(
            kind="failure_rate",
            subject="robot:ocr_documents",
            department="operations",
            robot_id=ocr.id,
            message="2 of 2 failed",
            opened_on="2026-12-05",
            raised_at=NOW - h,
        )
    )
    s.add(
        Alarm(
            kind="lease_lost",
            subject="robot:ocr_documents",
            department="operations",
            robot_id=ocr.id,
            message="cleared",
            opened_on="2026-12-04",
            raised_at=NOW - 20 * h,
            cleared_at=NOW - 19 * h,
        )
    )
    s.commit()
    return {"r1": r1.id, "r2": r2.id, "r3": r3.id, "r4": r4.id, "r5": r5.id, "fin": fin_item.id}


def test_the_operations_dashboard_counts_only_its_department(session, world):
    ops = "operations"
    w = monitoring.window(24, NOW)
    runs = monitoring.run_counts(session, ops, w)
    assert runs["total"] == 4  # r1..r4; the 30 h old run is outside
    assert runs["by_status"]["running"] == 3 and runs["by_status"]["partial"] == 1
    assert runs["by_robot"]["ocr_documents"]["running"] == 3
    assert "fin_close" not in runs["by_robot"]

    hours = monitoring.items_per_hour(monitoring.finished_items(session, ops, w), w)
    assert len(hours) == 25  # 10:00 yesterday … 10:00 today, every hour present
    by_hour = {row["hour"]: row for row in hours}
    assert by_hour["2026-12-05T09:00:00Z"] == {
        "hour": "2026-12-05T09:00:00Z",
        "done": 2,
        "failed": 3,
    }  # done 09:15, 09:29; failed 09:10, 09:40, 09:45
    assert by_hour["2026-12-05T08:00:00Z"]["done"] == 1
    assert sum(r["done"] for r in hours) == 3 and sum(r["failed"] for r in hours) == 3


def test_success_rate_failure_reasons_and_time_saved(session, world):
    report = monitoring.dashboard(session, ADMIN, hours=24, now=NOW, lease_s=30)
    success = {row["robot"]: row for row in report["success"]}
    assert success["recon_lines"] == {"robot": "recon_lines", "done": 3, "failed": 1, "rate": 0.75}
    assert success["ocr_documents"]["rate"] == 0.0
    assert success["fin_close"]["rate"] == 0.5
    reasons = report["failure_reasons"]
    assert reasons[0] == {
        "robot": "ocr_documents",
        "failure_kind": "APPLICATION",
        "failure_code": "timeout",
        "count": 2,
    }
    assert {(r["robot"], r["failure_code"]) for r in reasons[1:]} == {
        ("recon_lines", "no_line"),
        ("fin_close", "bad_payload"),
    }
    # 3 × 12.5 min = 0.625 h -> 0.63 (recon); ocr did nothing; 1 × 60 min = 1 h (finance)
    assert report["time_saved"] == {
        "hours": "1.63",
        "by_robot": {"fin_close": "1.00", "recon_lines": "0.63"},
    }
    assert report["reviews"] == {"open": 1, "proposed": 1}
    assert [a.kind for a in report["alarms"]] == ["failure_rate", "stuck_run"] or [
        a.kind for a in report["alarms"]
    ] == ["stuck_run", "failure_rate"]
    assert all(a.cleared_at is None for a in report["alarms"])


def test_stuck_runs_are_quiet_ones_and_those_with_a_stale_heartbeat(session, world):
    stuck = monitoring.stuck_runs(session, "operations", NOW, stuck_minutes=30, lease_s=30)
    by_run = {row["run_id"]: row for row in stuck}
    assert set(by_run) == {world["r2"], world["r3"]}  # r4's heartbeat is fresh; r1 finished
    assert by_run[world["r2"]]["reasons"] == ["quiet"]
    assert by_run[world["r2"]]["quiet_minutes"] == 45
    assert by_run[world["r3"]]["reasons"] == ["stale_heartbeat"]
    assert by_run[world["r3"]]["stale_items"] == 1
    # with a longer lease the heartbeat is not stale; with a longer quiet time r2 is fine
    assert monitoring.stuck_runs(session, "operations", NOW, stuck_minutes=60, lease_s=600) == []
    finance = monitoring.stuck_runs(session, "finance", NOW, stuck_minutes=30)
    assert [row["run_id"] for row in finance] == [world["r5"]]


def test_lists_are_scoped_and_paged(session, world):
    page = monitoring.list_runs(session, ADMIN, robot="ocr_documents", limit=2)
    assert [r.id for r in page.items] == [world["r4"], world["r3"]] and page.next_cursor
    rest = monitoring.list_runs(session, ADMIN, robot="ocr_documents", cursor=page.next_cursor)
    assert [r.id for r in rest.items] == [world["r2"]] and rest.next_cursor is None
    assert monitoring.list_runs(session, ADMIN, robot="no_such_robot").items == []
    failed = monitoring.list_items(session, ADMIN, state="FAILED", failure_kind="BUSINESS")
    assert {i.failure_code for i in failed.items} == {"no_line", "bad_payload"}
    counts = monitoring.run_item_counts(session, world["r2"])
    assert counts["items"] == {"NEW": 1, "RESERVED": 0, "DONE": 0, "FAILED": 2}
    assert counts["failed_by_kind"] == {"BUSINESS": 0, "APPLICATION": 2}
    assert len(monitoring.list_reviews(session, ADMIN).items) == 2
    assert len(monitoring.list_alarms(session, ADMIN).items) == 2
    assert len(monitoring.list_alarms(session, ADMIN, include_cleared=True).items) == 3


def test_only_factory_users_and_sane_windows(session, world):
    teller = Actor(user_id=None, username="teller1", role="teller", org_id=None)
    with pytest.raises(PermissionDenied):
        monitoring.dashboard(session, teller, now=NOW)
    with pytest.raises(ValidationFailed):
        monitoring.window(0, NOW)
    with pytest.raises(ValidationFailed):
        monitoring.window(monitoring.MAX_HOURS + 1, NOW)


def test_a_garbled_manifest_saves_no_time():
    assert monitoring.manual_minutes({"manual_minutes": "7.5"}) == monitoring.Decimal("7.5")
    assert monitoring.manual_minutes({"manual_minutes": "NaN"}) == 0
    assert monitoring.manual_minutes({"manual_minutes": "x"}) == 0
    assert monitoring.manual_minutes({}) == 0
