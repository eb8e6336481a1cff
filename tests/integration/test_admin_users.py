"""User administration over HTTP (admin only): list with cursor pages, create with the role and
branch rules, disable and enable, change role, unlock after a lock-out (429 with Retry-After),
reset a password. A disabled, demoted or reset user's existing tokens stop working at once,
while another user's keep working; every change is audited; Idempotency-Key replays."""

from sqlalchemy import func, select

from backend.identity.models import User
from backend.platform.audit import AuditRecord
from tests.conftest import login
from tests.integration.test_app_errors import assert_error

USERS = "/api/v1/admin/users"


def _id(app, username: str) -> int:
    with app.extensions["finedge"].session_factory() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _org(client, headers, code: str) -> int:
    orgs = client.get("/api/v1/orgs?limit=200", headers=headers).get_json()["items"]
    return next(o["id"] for o in orgs if o["code"] == code)


def _audits(app, action: str) -> list[AuditRecord]:
    with app.extensions["finedge"].session_factory() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_list_pages_through_every_user_and_filters(app, client, auth):
    seen, cursor = [], None
    while True:
        url = f"{USERS}?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth("admin")).get_json()
        assert len(page["items"]) <= 5
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    with app.extensions["finedge"].session_factory() as s:
        total = s.scalar(select(func.count()).select_from(User))
    assert len(seen) == len(set(seen)) == total and seen == sorted(seen)
    tellers = client.get(f"{USERS}?role=teller", headers=auth("admin")).get_json()["items"]
    assert {u["username"] for u in tellers} == {"teller1", "teller2"}
    assert all(u["branch_id"] == "BR001" and u["locked_until"] is None for u in tellers)
    prefix = client.get(f"{USERS}?username=deal", headers=auth("admin")).get_json()["items"]
    assert {u["username"] for u in prefix} == {"dealer1", "dealer2"}
    assert_error(client.get(f"{USERS}?cursor=%%%", headers=auth("admin")), 400, "invalid_cursor")


def test_only_admins_administer_users(app, client, auth):
    teller2 = _id(app, "teller2")
    for user in ("rm1", "dealer1", "teller1"):
        assert_error(client.get(USERS, headers=auth(user)), 403, "forbidden")
        assert_error(client.post(f"{USERS}/{teller2}/disable", headers=auth(user)), 403)
        assert_error(
            client.patch(f"{USERS}/{teller2}", json={"role": "rm"}, headers=auth(user)), 403
        )
    login(client, "teller2")  # unchanged
    assert_error(client.post(f"{USERS}/999999/disable", headers=auth("admin")), 404)


def test_create_checks_role_org_and_branch_and_changes_nothing_when_refused(app, client, auth):
    admin = auth("admin")
    dealer_org, branch_org = _org(client, admin, "DEALER1"), _org(client, admin, "BR001")
    bank = _org(client, admin, "BANK")

    def new(username, role, org, branch=None):
        body = {"username": username, "password": "longenough1", "role": role, "org_id": org}
        if branch is not None:
            body["branch_id"] = branch
        return client.post(USERS, json=body, headers=admin)

    assert_error(new("x1", "teller", dealer_org), 400, "role_not_allowed_in_org")
    body = assert_error(new("x2", "device", bank), 400, "role_not_assignable")
    assert "device" not in body["details"]["role"][0]  # the roles an admin may give
    assert_error(new("x6", "root", bank), 400, "role_not_assignable")
    assert_error(new("x3", "teller", branch_org, "BR999"), 400, "unknown_branch")
    assert_error(new("x4", "dealer", dealer_org, "BR001"), 400, "branch_not_allowed")
    assert_error(new("x5", "teller", 999999), 404, "org_not_found")
    with app.extensions["finedge"].session_factory() as s:
        assert not s.scalar(select(func.count()).select_from(User).where(User.username.like("x%")))
    made = new("t5", "teller", branch_org)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["branch_id"] == "BR001" and body["active"] is True  # the org's only branch
    assert "password" not in body
    login(client, "t5", "longenough1")
    assert _audits(app, "user.created")[-1].after["branch_id"] == "BR001"


def test_disable_revokes_that_users_tokens_at_once_and_not_others(app, client, auth):
    t1, t2 = auth("teller1"), auth("teller2")
    assert client.get("/api/v1/orgs", headers=t1).status_code == 200
    done = client.post(f"{USERS}/{_id(app, 'teller1')}/disable", headers=auth("admin"))
    assert done.status_code == 200 and done.get_json()["active"] is False
    assert_error(client.get("/api/v1/orgs", headers=t1), 401, "account_disabled")
    assert_error(client.get("/api/v1/auth/me", headers=t1), 401, "account_disabled")
    assert client.get("/api/v1/orgs", headers=t2).status_code == 200  # the other teller
    assert_error(
        client.post("/api/v1/auth/token", json={"username": "teller1", "password": "teller1-demo"}),
        401,
        "invalid_credentials",
    )
    enabled = client.post(f"{USERS}/{_id(app, 'teller1')}/enable", headers=auth("admin"))
    assert enabled.get_json()["active"] is True
    assert_error(client.get("/api/v1/orgs", headers=t1), 401, "token_revoked")  # stays revoked
    assert client.get("/api/v1/orgs", headers=login(client, "teller1")).status_code == 200
    (disabled,) = _audits(app, "user.disabled")
    assert disabled.actor_username == "admin" and disabled.before["active"] is True
    assert disabled.after["active"] is False
    assert len(_audits(app, "user.enabled")) == 1


def test_demotion_revokes_tokens_and_the_new_token_carries_the_new_role(app, client, auth):
    rm = auth("rm1")
    assert client.get("/api/v1/orgs", headers=rm).status_code == 200
    changed = client.patch(
        f"{USERS}/{_id(app, 'rm1')}", json={"role": "teller"}, headers=auth("admin")
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["role"] == "teller" and changed.get_json()["branch_id"] == "BR001"
    assert_error(client.get("/api/v1/orgs", headers=rm), 401, "token_revoked")
    assert client.get("/api/v1/auth/me", headers=auth("approver1")).status_code == 200
    fresh = client.post("/api/v1/auth/token", json={"username": "rm1", "password": "rm1-demo"})
    assert fresh.get_json()["user"]["role"] == "teller"
    (record,) = _audits(app, "user.changed")
    assert record.before["role"] == "rm" and record.after["role"] == "teller"
    # the same role again changes nothing and revokes nothing
    new_headers = {"Authorization": f"Bearer {fresh.get_json()['access_token']}"}
    client.patch(f"{USERS}/{_id(app, 'rm1')}", json={"role": "teller"}, headers=auth("admin"))
    assert client.get("/api/v1/auth/me", headers=new_headers).status_code == 200
    assert_error(client.patch(f"{USERS}/{_id(app, 'rm1')}", json={}, headers=auth("admin")), 400)
    assert_error(
        client.patch(f"{USERS}/{_id(app, 'rm1')}", json={"role": "dealer"}, headers=auth("admin")),
        400,
        "role_not_allowed_in_org",
    )


def test_the_bank_keeps_an_admin(app, client, auth):
    admin = auth("admin")
    me = _id(app, "admin")
    assert_error(client.post(f"{USERS}/{me}/disable", headers=admin), 409, "own_account")
    assert_error(
        client.patch(f"{USERS}/{me}", json={"role": "rm"}, headers=admin), 409, "own_account"
    )
    bank = _org(client, admin, "BANK")
    body = {"username": "admin2", "password": "longenough2", "role": "admin", "org_id": bank}
    assert client.post(USERS, json=body, headers=admin).status_code == 201
    admin2 = login(client, "admin2", "longenough2")
    assert client.post(f"{USERS}/{me}/disable", headers=admin2).status_code == 200
    assert_error(client.get(USERS, headers=admin), 401, "account_disabled")


def test_last_active_admin_cannot_be_disabled_by_anyone(app):
    from backend.identity import service as identity
    from backend.identity.cli import operator
    from backend.platform.errors import Conflict

    with app.extensions["finedge"].session_factory() as s:
        try:
            identity.set_active(s, operator(), _id(app, "admin"), False)
        except Conflict as exc:
            assert exc.code == "last_admin"
        else:
            raise AssertionError("the last admin was disabled")


def test_lockout_answers_retry_after_and_an_admin_unlocks(app, client, auth):
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "dealer2", "password": "bad"})
    refused = client.post(
        "/api/v1/auth/token", json={"username": "dealer2", "password": "dealer2-demo"}
    )
    body = assert_error(refused, 429, "login_rate_limited")
    retry = int(refused.headers["Retry-After"])
    window = app.extensions["finedge"].config.login_window_s
    assert 0 < retry <= window and body["details"]["retry_after_s"] == retry
    listed = client.get(f"{USERS}?username=dealer2", headers=auth("admin")).get_json()["items"]
    assert listed[0]["locked_until"] is not None
    assert_error(client.post(f"{USERS}/{_id(app, 'dealer2')}/unlock", headers=auth("rm1")), 403)
    unlocked = client.post(f"{USERS}/{_id(app, 'dealer2')}/unlock", headers=auth("admin"))
    assert unlocked.status_code == 200 and unlocked.get_json()["locked_until"] is None
    login(client, "dealer2")
    (record,) = _audits(app, "user.unlocked")
    assert record.after == {"failures_cleared": 5}


def test_reset_password_revokes_tokens_and_ends_a_lockout(app, client, auth):
    old = auth("teller2")
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "teller2", "password": "bad"})
    url = f"{USERS}/{_id(app, 'teller2')}/reset-password"
    assert_error(client.post(url, json={"password": "short"}, headers=auth("admin")), 400)
    assert client.get("/api/v1/orgs", headers=old).status_code == 200  # the refusal changed nothing
    done = client.post(url, json={"password": "a-new-password"}, headers=auth("admin"))
    assert done.status_code == 200
    assert_error(client.get("/api/v1/orgs", headers=old), 401, "token_revoked")
    assert_error(
        client.post("/api/v1/auth/token", json={"username": "teller2", "password": "teller2-demo"}),
        401,
    )
    login(client, "teller2", "a-new-password")
    (record,) = _audits(app, "user.password_reset")
    assert record.after == {"token_version": 1}  # nothing of the password


def test_idempotency_key_replays_a_disable_once(app, client, auth):
    headers = {**auth("admin"), "Idempotency-Key": "disable-loader2"}
    url = f"{USERS}/{_id(app, 'loader2')}/disable"
    first = client.post(url, headers=headers)
    second = client.post(url, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(_audits(app, "user.disabled")) == 1


def test_user_admin_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, method in (
        ("/api/v1/admin/users", "get"),
        ("/api/v1/admin/users", "post"),
        ("/api/v1/admin/users/{user_id}", "patch"),
        ("/api/v1/admin/users/{user_id}/disable", "post"),
        ("/api/v1/admin/users/{user_id}/unlock", "post"),
        ("/api/v1/admin/users/{user_id}/reset-password", "post"),
    ):
        operation = spec["paths"][path][method]
        assert operation.get("description") or operation.get("summary"), (path, method)
        assert "403" in operation["responses"], (path, method)
    login_op = spec["paths"]["/api/v1/auth/token"]["post"]
    assert "Retry-After" in login_op["responses"]["429"]["headers"]
    assert "session.revoked" in spec["x-live-events"]


def test_an_address_lockout_also_says_when_to_retry(make_app, sqlite_url):
    app = make_app(sqlite_url, login_max_failures_per_address=3)
    client = app.test_client()
    admin = login(client, "admin")  # before the address is locked
    for name in ("ghost1", "ghost2", "ghost3"):
        client.post("/api/v1/auth/token", json={"username": name, "password": "x"})
    refused = client.post(
        "/api/v1/auth/token", json={"username": "dealer1", "password": "dealer1-demo"}
    )
    body = assert_error(refused, 429, "login_rate_limited")
    assert body["details"]["scope"] == "address"
    assert int(refused.headers["Retry-After"]) == body["details"]["retry_after_s"] > 0
    # unlocking an account forgets that account's failures, not the address's others
    client.post(f"{USERS}/{_id(app, 'dealer1')}/unlock", headers=admin)
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "dealer1", "password": "dealer1-demo"}
        ).status_code
        == 429
    )
