"""Audit records for state changes; jobs recorded whether they pass or fail."""

import pytest
from sqlalchemy import select

from backend.platform import audit
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.jobs import JobRegistry, run_job


def test_user_creation_is_audited_with_request_id(client, auth):
    org = client.get("/api/v1/auth/me", headers=auth("admin")).get_json()["org_id"]
    response = client.post(
        "/api/v1/admin/users",
        json={"username": "audited", "password": "longenough1", "role": "rm", "org_id": org},
        headers={**auth("admin"), "X-Request-Id": "req-audit-1"},
    )
    assert response.status_code == 201
    page = client.get(
        "/api/v1/admin/audit?action=user.created&limit=1", headers=auth("admin")
    ).get_json()
    record = page["items"][0]
    assert record["after"]["username"] == "audited"
    assert record["actor_username"] == "admin" and record["request_id"] == "req-audit-1"
    assert "password" not in str(record)


def test_audit_records_are_append_only(session_factory):
    with session_factory() as session:
        entry = audit.record(session, SYSTEM, "x.done", "thing", 1, before=None, after={"a": 1})
        session.commit()
        entry.action = "tampered"
        with pytest.raises(RuntimeError, match="append-only"):
            session.commit()
        session.rollback()
        session.delete(session.get(AuditRecord, entry.id))
        with pytest.raises(RuntimeError, match="append-only"):
            session.commit()


def test_job_runs_are_recorded(session_factory):
    jobs = JobRegistry()

    @jobs.job("ok_job", every_s=60)
    def ok_job(session, now):
        audit.record(session, SYSTEM, "job.touched", "job", 1)
        return {"touched": 1}

    @jobs.job("bad_job")
    def bad_job(session, now):
        audit.record(session, SYSTEM, "job.should_roll_back", "job", 2)
        raise ValueError("no data")

    good = run_job(session_factory, "ok_job", jobs=jobs)
    bad = run_job(session_factory, "bad_job", jobs=jobs)
    assert (good.outcome, good.result) == ("ok", {"touched": 1})
    assert bad.outcome == "failed" and "no data" in bad.error and bad.finished_at
    with session_factory() as session:
        actions = set(session.scalars(select(AuditRecord.action)))
    assert "job.touched" in actions and "job.should_roll_back" not in actions


def test_admin_runs_job_over_http(client, auth):
    response = client.post("/api/v1/admin/jobs/purge_idempotency_keys/run", headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["outcome"] == "ok"
    runs = client.get("/api/v1/admin/jobs", headers=auth("admin")).get_json()
    assert set(runs) == {"items", "next_cursor"}
    assert runs["items"][0]["name"] == "purge_idempotency_keys"
    assert client.post("/api/v1/admin/jobs/nope/run", headers=auth("admin")).status_code == 404
