"""Idempotency-Key: replay, reuse with another body, concurrent duplicates, failures."""

import threading

from sqlalchemy import func, select

from backend.identity.models import User
from tests.integration.test_app_errors import assert_error


def _org(client, headers):
    return client.get("/api/v1/auth/me", headers=headers).get_json()["org_id"]


def _count_users(app, username):
    with app.extensions["finedge"].session_factory() as session:
        return session.scalar(
            select(func.count()).select_from(User).where(User.username == username)
        )


def _new_user(org_id, username="newuser"):
    return {"username": username, "password": "longenough1", "role": "teller", "org_id": org_id}


def test_same_key_same_body_replays_first_response(app, client, auth):
    headers = {**auth("admin"), "Idempotency-Key": "k-1"}
    body = _new_user(_org(client, auth("admin")))
    first = client.post("/api/v1/admin/users", json=body, headers=headers)
    second = client.post("/api/v1/admin/users", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _count_users(app, "newuser") == 1


def test_same_key_other_body_is_409_and_changes_nothing(app, client, auth):
    headers = {**auth("admin"), "Idempotency-Key": "k-2"}
    org = _org(client, auth("admin"))
    assert (
        client.post("/api/v1/admin/users", json=_new_user(org, "u1"), headers=headers).status_code
        == 201
    )
    assert_error(
        client.post("/api/v1/admin/users", json=_new_user(org, "u2"), headers=headers),
        409,
        "idempotency_key_reused",
    )
    assert _count_users(app, "u2") == 0


def test_keys_are_per_caller(app, client, auth):
    org = _org(client, auth("admin"))
    r1 = client.post(
        "/api/v1/admin/users",
        json=_new_user(org, "u3"),
        headers={**auth("admin"), "Idempotency-Key": "s"},
    )
    r2 = client.post(
        "/api/v1/admin/users",
        json=_new_user(org, "u3"),
        headers={**auth("dealer1"), "Idempotency-Key": "s"},
    )
    assert r1.status_code == 201
    assert_error(r2, 403)


def test_refused_request_is_stored_and_replayed_without_side_effects(app, client, auth):
    headers = {**auth("admin"), "Idempotency-Key": "k-3"}
    body = _new_user(999999, "u4")  # unknown org: 404
    assert_error(client.post("/api/v1/admin/users", json=body, headers=headers), 404)
    replay = client.post("/api/v1/admin/users", json=body, headers=headers)
    assert replay.status_code == 404 and replay.headers["Idempotent-Replayed"] == "true"
    assert _count_users(app, "u4") == 0


def test_concurrent_duplicates_apply_once(app, auth):
    headers = {**auth("admin"), "Idempotency-Key": "k-concurrent"}
    org = _org(app.test_client(), auth("admin"))
    body = _new_user(org, "racer")
    results = []
    barrier = threading.Barrier(6)

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/admin/users", json=body, headers=headers)
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    for status, body_ in results:
        if status == 409:
            assert body_["error"]["code"] == "idempotency_in_progress"
    created_ids = {b["id"] for s, b in results if s == 201}
    assert len(created_ids) == 1
    assert _count_users(app, "racer") == 1


def test_server_error_releases_the_key(app, client, auth, monkeypatch):
    from backend.identity import service

    org = _org(client, auth("admin"))
    headers = {**auth("admin"), "Idempotency-Key": "k-500"}
    original = service.create_user

    def broken(*args, **kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(service, "create_user", broken)
    assert_error(
        client.post("/api/v1/admin/users", json=_new_user(org, "u5"), headers=headers), 500
    )
    monkeypatch.setattr(service, "create_user", original)
    assert (
        client.post("/api/v1/admin/users", json=_new_user(org, "u5"), headers=headers).status_code
        == 201
    )
