"""A disabled or demoted user's token stops working at once on every endpoint, not only
/auth/me (issue 13, item 1): every operation of the OpenAPI document is called with the old
token and answers 401 in the contract's shape, while another user's token keeps working."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.identity.models import User
from tests.conftest import login
from tests.integration.test_app_errors import assert_error

USERS = "/api/v1/admin/users"
PUBLIC = {
    "/api/v1/auth/token",
    "/api/v1/auth/wx-login",
    "/api/v1/health",
    "/api/v1/health/live",
    # a clearing house's requests carry its HMAC signature, never a user's token
    # (tests/integration/test_clearing_http.py refuses them unsigned, stale and replayed)
    "/api/v1/clearing/instructions",
    "/api/v1/clearing/reconciliation-files",
}


def _id(app, username: str) -> int:
    with app.extensions["finedge"].session_factory() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _operations(client) -> list[tuple[str, str]]:
    spec = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"} and path not in PUBLIC:
                found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


def _call(client, method: str, path: str, headers: dict):
    kwargs = {"headers": headers}
    if method != "get":
        kwargs["json"] = {}
    return getattr(client, method)(path, **kwargs)


def test_a_disabled_users_token_is_refused_by_every_operation(app, client, auth):
    disabled, other = login(client, "teller1"), login(client, "teller2")
    operations = _operations(client)
    assert len(operations) > 50  # the whole API, not a sample
    done = client.post(f"{USERS}/{_id(app, 'teller1')}/disable", headers=auth("admin"))
    assert done.status_code == 200
    for method, path in operations:
        assert_error(_call(client, method, path, disabled), 401, "account_disabled")
    for method, path in operations:
        if method == "get":
            assert _call(client, "get", path, other).status_code != 401, path


def test_a_demoted_users_old_token_can_no_longer_do_what_the_old_role_allowed(app, client, auth):
    old, other = login(client, "approver1"), login(client, "rm1")
    inbox = "/api/v1/risk/inbox"
    assert client.get(inbox, headers=old).status_code == 200  # an approver reads risk
    changed = client.patch(
        f"{USERS}/{_id(app, 'approver1')}", json={"role": "teller"}, headers=auth("admin")
    )
    assert changed.status_code == 200
    for method, path in _operations(client):
        assert_error(_call(client, method, path, old), 401, "token_revoked")
    assert_error(client.get(inbox, headers=login(client, "approver1")), 403, "forbidden")
    assert client.get(inbox, headers=other).status_code == 200  # the other user unaffected
