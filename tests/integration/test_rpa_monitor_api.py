"""The factory's monitoring API (miniapp_api/rpa/monitor.py): what an operator of one
department sees of the factory, and that another department's runs, items, logs, artefacts,
reviews and alarms are 404 to them (ops1: operations, fin1: finance; a teller: 403)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from backend.platform.clock import utcnow
from backend.platform.db import session_scope
from tests.conftest import login
from tests.rpa_monitor_support import build_app, item, robot, rpa_db_url, run

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(params=["sqlite"])
def db_url(request):
    return rpa_db_url(request)


@pytest.fixture
def rpa(db_url):
    from backend.rpa.models import Alarm, Artefact, Review, RunLog

    runtime = build_app(db_url)
    now = utcnow()
    ids = {}
    with session_scope(runtime.session_factory) as s:
        ops, v_ops = robot(s, "recon_lines", "operations", "10", now - timedelta(days=2))
        fin, v_fin = robot(s, "fin_close", "finance", "30", now - timedelta(days=2))
        r_ops = run(s, ops, v_ops, now - timedelta(hours=2), status="partial")
        done = item(s, r_ops, "DONE", now - timedelta(minutes=90), result={"ok": True})
        bad = item(s, r_ops, "FAILED", now - timedelta(minutes=80), kind="BUSINESS", code="x")
        review = Review(item_id=bad.id, department="operations", status="open", created_at=now)
        r_fin = run(s, fin, v_fin, now - timedelta(hours=3))
        fin_item = item(s, r_fin, "FAILED", now - timedelta(hours=2), kind="BUSINESS", code="y")
        fin_review = Review(
            item_id=fin_item.id, department="finance", status="open", created_at=now
        )
        s.add_all([review, fin_review])
        s.add_all(
            [
                RunLog(run_id=r_ops.id, item_id=None, at=now, level="info", message="produced 2"),
                RunLog(run_id=r_ops.id, item_id=done.id, at=now, level="info", message="line ok"),
                RunLog(run_id=r_fin.id, item_id=None, at=now, level="info", message="finance"),
            ]
        )
        arts = []
        for dept, run_row, item_row, name in (
            ("operations", r_ops, done, "recon report.png"),
            ("finance", r_fin, fin_item, "close.png"),
        ):
            art = Artefact(
                department=dept,
                run_id=run_row.id,
                item_id=item_row.id,
                name=name,
                content_type="image/png",
                size=len(PNG),
                sha256=hashlib.sha256(PNG).hexdigest(),
                data=PNG,
                created_by="robot",
                created_at=now,
            )
            s.add(art)
            arts.append(art)
        s.add(
            Alarm(
                kind="stuck_run",
                subject=f"run:{r_fin.id}",
                department="finance",
                robot_id=fin.id,
                message="quiet",
                opened_on=now.date().isoformat(),
                raised_at=now,
            )
        )
        s.flush()
        ids = {
            "r_ops": r_ops.id,
            "r_fin": r_fin.id,
            "done": done.id,
            "bad": bad.id,
            "fin_item": fin_item.id,
            "art_ops": arts[0].id,
            "art_fin": arts[1].id,
            "review": review.id,
            "fin_review": fin_review.id,
        }
    client = runtime.app.test_client()
    yield client, ids
    runtime.stop()


def test_an_operator_sees_their_department_and_not_the_other(rpa):
    client, ids = rpa
    ops1, fin1 = login(client, "ops1"), login(client, "fin1")

    board = client.get("/api/v1/rpa/dashboard?hours=24", headers=ops1).get_json()
    assert board["department"] == "operations"
    assert board["runs"]["by_robot"] == {"recon_lines": board["runs"]["by_robot"]["recon_lines"]}
    assert [(r["robot"], r["done"], r["failed"], r["rate"]) for r in board["success"]] == [
        ("recon_lines", 1, 1, 0.5)
    ]
    assert board["time_saved"]["hours"] == "0.17"  # 1 DONE × 10 min
    assert board["reviews"] == {"open": 1, "proposed": 0}
    assert board["alarms"] == []  # finance's alarm is not theirs
    assert len(board["items_per_hour"]) == 25
    fin_board = client.get("/api/v1/rpa/dashboard", headers=fin1).get_json()
    assert fin_board["department"] == "finance" and len(fin_board["alarms"]) == 1

    runs = client.get("/api/v1/rpa/runs", headers=ops1).get_json()
    assert [r["id"] for r in runs["items"]] == [ids["r_ops"]]
    assert runs["items"][0]["robot"] == "recon_lines"
    detail = client.get(f"/api/v1/rpa/runs/{ids['r_ops']}", headers=ops1).get_json()
    assert detail["items"] == {"NEW": 0, "RESERVED": 0, "DONE": 1, "FAILED": 1}
    assert detail["failed_by_kind"]["BUSINESS"] == 1
    assert [a["id"] for a in detail["artefacts"]] == [ids["art_ops"]]
    logs = client.get(f"/api/v1/rpa/runs/{ids['r_ops']}/logs", headers=ops1).get_json()
    assert [line["message"] for line in logs["items"]] == ["produced 2", "line ok"]

    one = client.get(f"/api/v1/rpa/items/{ids['done']}", headers=ops1).get_json()
    assert one["result"] == {"ok": True} and one["payload"] == {"n": 1}
    assert [line["message"] for line in one["logs"]] == ["line ok"]
    assert [a["id"] for a in one["artefacts"]] == [ids["art_ops"]]

    file = client.get(f"/api/v1/rpa/artefacts/{ids['art_ops']}", headers=ops1)
    assert file.status_code == 200 and file.data == PNG
    assert file.headers["Content-Type"] == "image/png"
    assert file.headers["X-Content-Type-Options"] == "nosniff"
    assert file.headers["Content-Disposition"] == 'attachment; filename="recon_report.png"'

    # finance's objects do not exist for ops1, and the other way round
    for path in (
        f"/api/v1/rpa/runs/{ids['r_fin']}",
        f"/api/v1/rpa/runs/{ids['r_fin']}/logs",
        f"/api/v1/rpa/items/{ids['fin_item']}",
        f"/api/v1/rpa/artefacts/{ids['art_fin']}",
    ):
        response = client.get(path, headers=ops1)
        assert response.status_code == 404, path
    assert client.get(f"/api/v1/rpa/items/{ids['done']}", headers=fin1).status_code == 404
    assert client.get("/api/v1/rpa/runs/999999", headers=ops1).status_code == 404

    reviews = client.get("/api/v1/rpa/reviews", headers=ops1).get_json()["items"]
    assert [(r["id"], r["robot"], r["failure_code"]) for r in reviews] == [
        (ids["review"], "recon_lines", "x")
    ]
    fin_reviews = client.get("/api/v1/rpa/reviews", headers=fin1).get_json()["items"]
    assert [r["id"] for r in fin_reviews] == [ids["fin_review"]]
    assert client.get("/api/v1/rpa/alarms", headers=ops1).get_json()["items"] == []
    assert len(client.get("/api/v1/rpa/alarms", headers=fin1).get_json()["items"]) == 1
    items = client.get("/api/v1/rpa/items?robot=fin_close", headers=ops1).get_json()
    assert items["items"] == []  # another department's robot filters to nothing


def test_admin_sees_all_others_are_refused_and_lists_page(rpa):
    client, ids = rpa
    admin = login(client, "admin")
    board = client.get("/api/v1/rpa/dashboard", headers=admin).get_json()
    assert board["department"] is None
    assert set(board["runs"]["by_robot"]) == {"recon_lines", "fin_close"}
    first = client.get("/api/v1/rpa/items?limit=2", headers=admin).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(f"/api/v1/rpa/items?limit=2&cursor={first['next_cursor']}", headers=admin)
    seen = [i["id"] for i in first["items"] + rest.get_json()["items"]]
    assert sorted(seen) == sorted([ids["done"], ids["bad"], ids["fin_item"]])
    failed = client.get("/api/v1/rpa/items?state=FAILED&failure_kind=BUSINESS", headers=admin)
    assert {i["failure_code"] for i in failed.get_json()["items"]} == {"x", "y"}

    teller = login(client, "teller1")
    for path in (
        "/api/v1/rpa/dashboard",
        "/api/v1/rpa/runs",
        f"/api/v1/rpa/artefacts/{ids['art_ops']}",
    ):
        assert client.get(path, headers=teller).status_code == 403, path
    assert client.get("/api/v1/rpa/dashboard").status_code == 401
    assert client.get("/api/v1/rpa/dashboard?hours=0", headers=admin).status_code == 400
    assert client.get("/api/v1/rpa/runs?status=bogus", headers=admin).status_code == 400
    assert client.get("/api/v1/rpa/items?cursor=zzz", headers=admin).status_code == 400
