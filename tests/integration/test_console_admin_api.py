"""The reads the staff console's devices and admin pages need beyond the older endpoints: the
rollout list (GET /fleet/rollouts), the jobs with their schedule and latest run
(GET /admin/jobs/schedule) and the audit log by time (since, until). Admin only: another
role is refused."""

from __future__ import annotations

from datetime import timedelta

from backend.platform.clock import isoformat, utcnow
from tests.integration import test_branch_support as support

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_url = support.hall_url  # fixture

MODEL = "SC-3000 smart counter"


def test_rollouts_are_listed_newest_first_for_admins_only(api):
    template = api.ok(
        api.post(
            "admin", "/fleet/templates", {"model": MODEL, "name": "t", "params": {"volume": 3}}
        ),
        201,
    )
    body = {"template_id": template["id"], "percentage": 34, "branch_id": "BR001"}
    rollout = api.ok(api.post("admin", "/fleet/rollouts", body), 201)
    page = api.ok(api.get("admin", "/fleet/rollouts"))
    first = page["items"][0]
    assert first["id"] == rollout["id"] and first["template"]["id"] == template["id"]
    assert (first["status"], first["percentage"], first["branch_id"]) == ("running", 34, "BR001")
    assert api.ok(api.get("admin", "/fleet/rollouts?status=completed"))["items"] == []
    assert api.get("teller1", "/fleet/rollouts").status_code == 403
    assert api.get("admin", "/fleet/rollouts?status=bogus").status_code == 400


def test_job_schedule_lists_every_job_with_its_latest_run(client, auth):
    ran = client.post(
        "/api/v1/admin/jobs/purge_idempotency_keys/run",
        headers={**auth("admin"), "Idempotency-Key": "j1"},
    )
    items = client.get("/api/v1/admin/jobs/schedule?limit=200", headers=auth("admin")).get_json()[
        "items"
    ]
    names = [job["name"] for job in items]
    assert names == sorted(names) and names
    assert ran.status_code == 200, ran.get_json()
    sweep = next(job for job in items if job["name"] == "purge_idempotency_keys")
    assert sweep["last_run"]["id"] == ran.get_json()["id"]
    assert all("every_s" in job and "cron" in job for job in items)
    refused = client.get("/api/v1/admin/jobs/schedule", headers=auth("teller1"))
    assert refused.status_code == 403


def test_audit_is_searched_by_time(client, auth):
    org = client.get("/api/v1/auth/me", headers=auth("admin")).get_json()["org_id"]
    before = utcnow() - timedelta(seconds=1)
    created = client.post(
        "/api/v1/admin/users",
        json={"username": "timed", "password": "longenough1", "role": "rm", "org_id": org},
        headers={**auth("admin"), "Idempotency-Key": "u1"},
    )
    assert created.status_code == 201
    after = utcnow() + timedelta(seconds=1)

    def search(**query):
        response = client.get(
            "/api/v1/admin/audit",
            query_string={"action": "user.created", **query},
            headers=auth("admin"),
        )
        assert response.status_code == 200, response.get_json()
        return [r["after"]["username"] for r in response.get_json()["items"]]

    assert "timed" in search(since=isoformat(before), until=isoformat(after))
    assert "timed" not in search(until=isoformat(before))
    assert "timed" not in search(since=isoformat(after))
    assert client.get("/api/v1/admin/audit", headers=auth("teller1")).status_code == 403


def test_a_devices_commands_are_listed_to_who_may_see_the_device(api):
    with api.session() as s:
        from sqlalchemy import select

        from backend.devices.models import Device, DeviceCommand

        device = s.scalar(select(Device).where(Device.device_id == "BR001-LCK-01"))
        now = utcnow()
        for n in range(2):
            s.add(
                DeviceCommand(
                    command_id=f"00000000-0000-0000-0000-00000000000{n}",
                    device_pk=device.id,
                    name="lock.lock",
                    args={},
                    status="ok",
                    reason="",
                    created_at=now,
                )
            )
        s.commit()
    page = api.ok(api.get("admin", "/devices/BR001-LCK-01/commands"))
    assert [c["id"][-1] for c in page["items"]] == ["1", "0"]
    assert page["items"][0]["name"] == "lock.lock"
    assert api.get("dealer1", "/devices/BR001-LCK-01/commands").status_code == 404


def test_job_schedule_pages_by_name(client, auth):
    first = client.get("/api/v1/admin/jobs/schedule?limit=2", headers=auth("admin")).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(
        "/api/v1/admin/jobs/schedule",
        query_string={"limit": 200, "cursor": first["next_cursor"]},
        headers=auth("admin"),
    ).get_json()
    names = [j["name"] for j in first["items"] + rest["items"]]
    assert names == sorted(set(names)) and rest["next_cursor"] is None
