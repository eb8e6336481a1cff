"""Idempotency keys never keep or replay a secret, and are scoped per user.

- a response with a secret shown once (device credentials) is not stored; a replay is 409
  ``idempotency_result_shown_once`` and runs nothing;
- login endpoints store nothing (no row, no token in any row);
- two users of the same org with the same key and body each get their own request.
"""

from __future__ import annotations

from sqlalchemy import func, select

from backend.branch.models import Ticket
from backend.platform.idempotency import IdempotencyKey
from tests.integration.test_app_errors import assert_error
from tests.integration.test_devices_api import hub  # noqa: F401 (fixture)
from tests.integration.test_migrations import empty_db_url  # noqa: F401 (fixture)


def _rows(app) -> list[IdempotencyKey]:
    with app.extensions["finedge"].session_factory() as session:
        rows = list(session.scalars(select(IdempotencyKey)))
        session.expunge_all()
        return rows


def _stored_anywhere(app, *secrets: str) -> list[str]:
    """Secrets found in any stored idempotency row (body, fingerprint, key, scope)."""
    found = []
    for row in _rows(app):
        blob = b" ".join(
            part if isinstance(part, bytes) else str(part).encode()
            for part in (row.response_body or b"", row.fingerprint, row.key, row.scope)
        )
        found += [s for s in secrets if s.encode() in blob]
    return found


def test_device_secrets_are_shown_once_even_with_an_idempotency_key(app, client, auth, hub):  # noqa: F811
    headers = {**auth("admin"), "Idempotency-Key": "provision-lck-21"}
    body = {"branch_id": "BR001", "device_type": "lock", "device_id": "BR001-LCK-21", "model": "x"}
    created = client.post("/api/v1/devices", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    creds = created.get_json()
    secrets = (creds["hmac_secret"], creds["mqtt_password"])

    replay = client.post("/api/v1/devices", json=body, headers=headers)
    err = assert_error(replay, 409, "idempotency_result_shown_once")
    assert err["details"] == {"status_code": 201}
    assert not any(s in replay.get_data(as_text=True) for s in secrets)
    assert _stored_anywhere(app, *secrets) == []
    (row,) = [r for r in _rows(app) if r.key == "provision-lck-21"]
    assert (row.state, row.status_code, row.replayable, row.response_body) == (
        "done",
        201,
        False,
        None,
    )

    # rotation: the same, and the work is not done twice by a replay
    rotate = {**auth("admin"), "Idempotency-Key": "rotate-lck-21"}
    rotated = client.post("/api/v1/devices/BR001-LCK-21/credentials", headers=rotate)
    assert rotated.status_code in (200, 201), rotated.get_json()
    new = rotated.get_json()
    again = client.post("/api/v1/devices/BR001-LCK-21/credentials", headers=rotate)
    assert_error(again, 409, "idempotency_result_shown_once")
    assert _stored_anywhere(app, new["hmac_secret"], new["mqtt_password"]) == []


def test_logins_store_nothing_under_an_idempotency_key(app, client):
    headers = {"Idempotency-Key": "login-1"}
    body = {"username": "teller1", "password": "teller1-demo"}
    first = client.post("/api/v1/auth/token", json=body, headers=headers)
    second = client.post("/api/v1/auth/token", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    tokens = (first.get_json()["access_token"], second.get_json()["access_token"])
    assert _stored_anywhere(app, *tokens, "teller1-demo") == []
    assert [r for r in _rows(app) if r.key == "login-1"] == []


def test_a_password_in_a_body_is_not_recoverable_from_the_fingerprint(app, client, auth):
    import hashlib

    org = client.get("/api/v1/auth/me", headers=auth("admin")).get_json()["org_id"]
    body = b'{"username":"fpuser","password":"guessable-1","role":"teller","org_id":%d}' % org
    response = client.post(
        "/api/v1/admin/users",
        data=body,
        content_type="application/json",
        headers={**auth("admin"), "Idempotency-Key": "fp-1"},
    )
    assert response.status_code == 201, response.get_json()
    (row,) = [r for r in _rows(app) if r.key == "fp-1"]
    plain = hashlib.sha256()
    for part in (b"POST", b"/api/v1/admin/users", body):
        plain.update(len(part).to_bytes(8, "big"))
        plain.update(part)
    assert row.fingerprint != plain.hexdigest()  # keyed (HMAC): no offline guessing


def test_two_users_of_one_org_with_the_same_key_and_body_each_get_their_own_request(
    app, client, auth
):
    me1 = client.get("/api/v1/auth/me", headers=auth("teller1")).get_json()
    me2 = client.get("/api/v1/auth/me", headers=auth("teller2")).get_json()
    assert me1["org_id"] == me2["org_id"] and me1["id"] != me2["id"]  # the premise

    def tickets() -> int:
        with app.extensions["finedge"].session_factory() as session:
            return session.scalar(select(func.count()).select_from(Ticket))

    before = tickets()
    body = {"service": "cash"}
    first = client.post(
        "/api/v1/branches/BR001/tickets",
        json=body,
        headers={**auth("teller1"), "Idempotency-Key": "same-key"},
    )
    second = client.post(
        "/api/v1/branches/BR001/tickets",
        json=body,
        headers={**auth("teller2"), "Idempotency-Key": "same-key"},
    )
    assert first.status_code == 201, first.get_json()
    assert second.status_code == 201, second.get_json()
    assert "Idempotent-Replayed" not in second.headers
    assert first.get_json()["ticket_no"] != second.get_json()["ticket_no"]
    assert tickets() == before + 2
    # and the same user again is a replay of their own first answer
    replay = client.post(
        "/api/v1/branches/BR001/tickets",
        json=body,
        headers={**auth("teller2"), "Idempotency-Key": "same-key"},
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == second.get_json()


def test_carries_secret_finds_secret_fields_at_any_depth():
    from backend.platform.idempotency import carries_secret

    assert carries_secret(b'{"a":[{"b":{"hmac_secret":"x"}}]}', "application/json")
    assert carries_secret(b'{"access_token":"x"}', "application/json")
    assert carries_secret(b"not json", "text/plain")
    assert not carries_secret(b'{"error":{"code":"x"},"token_type":"Bearer"}', "application/json")
    assert not carries_secret(b"", "application/json")


def test_the_upgrade_wipes_stored_bodies_and_refuses_their_replay(empty_db_url):  # noqa: F811
    from sqlalchemy import text

    from backend.platform import migrate
    from backend.platform.db import make_engine

    migrate.upgrade(empty_db_url, "0011_hub_leases")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO idempotency_keys (scope, key, fingerprint, state, status_code,"
                    " response_body, content_type, created_at) VALUES ('user:1', :key, 'f',"
                    " :state, 201, :body, 'application/json', CURRENT_TIMESTAMP)"
                ),
                [
                    {"key": "k1", "state": "done", "body": b'{"hmac_secret":"s3cr3t"}'},
                    {"key": "k2", "state": "in_progress", "body": None},
                ],
            )
        migrate.upgrade(empty_db_url, "0015_idempotency_hardening")
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT state, replayable, response_body FROM idempotency_keys ORDER BY id")
            ).all()
        assert [(r[0], bool(r[1]), r[2]) for r in rows] == [
            ("done", False, None),
            ("in_progress", True, None),
        ]
    finally:
        engine.dispose()
