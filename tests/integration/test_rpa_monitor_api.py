"""The factory's monitoring API (miniapp_api/rpa/monitor.py): what an operator of one
department sees of the factory, and that another department's runs, items, logs, artefacts,
reviews and alarms are 404 to them (ops1: operations, fin1: finance; a teller: 403)."""

from __future__ import annotations

import pytest

from backend.platform.clock import utcnow
from tests.conftest import login
from tests.rpa_monitor_support import PNG, clear_factory, two_departments


@pytest.fixture
def rpa(make_app, sqlite_url):
    app = make_app(sqlite_url)  # the demo seed: ops1, ops2 in operations, fin1 in finance
    factory = app.extensions["finedge"].session_factory
    clear_factory(factory)
    return app.test_client(), two_departments(factory, utcnow())


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
    assert detail["item_counts"] == {"NEW": 0, "RESERVED": 0, "DONE": 1, "FAILED": 1}
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
    of_run = client.get(f"/api/v1/rpa/items?run_id={ids['r_ops']}", headers=ops1).get_json()
    assert sorted(i["id"] for i in of_run["items"]) == sorted([ids["done"], ids["bad"]])
    item_log = client.get(
        f"/api/v1/rpa/runs/{ids['r_ops']}/logs?item_id={ids['done']}", headers=ops1
    ).get_json()
    assert [line["message"] for line in item_log["items"]] == ["line ok"]
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
