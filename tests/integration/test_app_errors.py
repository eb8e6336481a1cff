"""The contract's error shape everywhere, never a stack trace."""

import pytest
from flask import Blueprint


def assert_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


def test_openapi_and_docs_are_public(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.get_json()["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in spec.get_json()["paths"]
    assert client.get("/api/v1/docs/").status_code == 200


def test_unknown_route_and_method(client, auth):
    assert_error(client.get("/api/v1/nope", headers=auth("admin")), 404, "not_found")
    assert_error(client.delete("/api/v1/auth/token"), 405, "method_not_allowed")


def test_malformed_json_wrong_types_unknown_fields(client):
    err = assert_error(
        client.post("/api/v1/auth/token", data="{bad", content_type="application/json"),
        400,
        "malformed_json",
    )
    assert err["details"]
    err = assert_error(client.post("/api/v1/auth/token", json={"username": 5, "password": []}), 400)
    assert set(err["details"]) == {"username", "password"}
    err = assert_error(
        client.post("/api/v1/auth/token", json={"username": "a", "password": "b", "x": 1}), 400
    )
    assert "x" in err["details"]


def test_oversize_body_is_413(client):
    big = "x" * (1024 * 1024 + 10)
    assert_error(client.post("/api/v1/auth/token", data=big, content_type="application/json"), 413)


def test_unhandled_exception_is_500_with_request_id_and_no_trace(app, caplog):
    boom = Blueprint("boom", __name__)

    @boom.get("/boom")
    def _boom():
        raise RuntimeError("secret internals")

    app.register_blueprint(boom)
    response = app.test_client().get("/boom", headers={"X-Request-Id": "req-123"})
    err = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert err["details"]["request_id"] == "req-123"
    assert "req-123" in caplog.text


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic abc", "Bearer not.a.jwt"],
)
def test_bad_tokens_are_401(client, header):
    headers = {"Authorization": header} if header else {}
    assert_error(client.get("/api/v1/auth/me", headers=headers), 401)


def test_pagination_bad_cursor_and_limit(client, auth):
    assert_error(
        client.get("/api/v1/orgs?cursor=%%%", headers=auth("admin")), 400, "invalid_cursor"
    )
    assert_error(client.get("/api/v1/orgs?limit=0", headers=auth("admin")), 400, "validation_error")
