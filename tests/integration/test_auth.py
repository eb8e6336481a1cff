"""Password login, expiry, lockout, mini-program login, the caller's own identity."""

from datetime import timedelta

from backend.identity.tokens import issue_token
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from tests.conftest import login
from tests.integration.test_app_errors import assert_error


def test_good_login_returns_contract_shape(client):
    response = client.post(
        "/api/v1/auth/token", json={"username": "dealer1", "password": "dealer1-demo"}
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert set(body["user"]) == {"id", "username", "role", "org_id", "branch_id"}
    assert body["user"]["role"] == "dealer" and body["user"]["branch_id"] is None
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json()["username"] == "dealer1"


def test_staff_of_a_branch_are_told_their_branch(client):
    # the console's hall pages show the teller's own branch (web/static/js/console/hall/)
    body = client.post(
        "/api/v1/auth/token", json={"username": "teller1", "password": "teller1-demo"}
    ).get_json()
    assert body["user"]["branch_id"] == "BR001"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json()["branch_id"] == "BR001"


def test_every_seeded_role_can_log_in(client):
    for username in (
        "admin",
        "oem1",
        "dealer2",
        "supervisor1",
        "rm1",
        "approver1",
        "teller2",
        "loader1",
        "client1",
    ):
        login(client, username)


def test_bad_password_and_unknown_user_look_the_same(client):
    a = assert_error(
        client.post("/api/v1/auth/token", json={"username": "dealer1", "password": "nope"}), 401
    )
    b = assert_error(
        client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope"}), 401
    )
    assert a == b


def test_expired_token_is_401(app, client):
    secret = app.extensions["finedge"].config.secret_key
    token = issue_token(
        Actor(1, "admin", "admin", 1), secret, ttl_s=60, now=utcnow() - timedelta(hours=2)
    )
    assert_error(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}),
        401,
        "token_expired",
    )


def test_token_signed_with_another_key_is_401(client):
    token = issue_token(Actor(1, "admin", "admin", 1), "another-secret-key-" * 3, ttl_s=600)
    assert_error(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}),
        401,
        "invalid_token",
    )


def test_lockout_per_account_even_with_right_password(client):
    for _ in range(5):
        assert_error(
            client.post("/api/v1/auth/token", json={"username": "dealer2", "password": "bad"}), 401
        )
    assert_error(
        client.post("/api/v1/auth/token", json={"username": "dealer2", "password": "dealer2-demo"}),
        429,
        "login_rate_limited",
    )
    login(client, "dealer1")  # other accounts are unaffected


def test_lockout_per_address(make_app, sqlite_url):
    app = make_app(sqlite_url, login_max_failures_per_address=3)
    client = app.test_client()
    for name in ("ghost1", "ghost2", "ghost3"):
        assert_error(
            client.post("/api/v1/auth/token", json={"username": name, "password": "x"}), 401
        )
    assert_error(
        client.post("/api/v1/auth/token", json={"username": "admin", "password": "admin-demo"}), 429
    )


def test_successful_login_clears_account_failures(client):
    for _ in range(4):
        client.post("/api/v1/auth/token", json={"username": "oem1", "password": "bad"})
    login(client, "oem1")
    for _ in range(4):
        client.post("/api/v1/auth/token", json={"username": "oem1", "password": "bad"})
    login(client, "oem1")


def test_wx_login_with_fake_provider_creates_client_once(client):
    first = client.post("/api/v1/auth/wx-login", json={"code": "fake:openid-42"})
    assert first.status_code == 200, first.get_json()
    second = client.post("/api/v1/auth/wx-login", json={"code": "fake:openid-42"})
    assert first.get_json()["user"]["id"] == second.get_json()["user"]["id"]
    assert first.get_json()["user"]["role"] == "client"
    assert_error(
        client.post("/api/v1/auth/wx-login", json={"code": "garbage"}), 401, "invalid_wx_code"
    )


def test_real_wechat_provider_parses_code2session():
    from backend.identity.wechat import WeChatCode2Session

    class FakeHttp:
        def __init__(self, body):
            self.body, self.calls = body, []

        def get(self, url, params, timeout):
            self.calls.append((url, params))
            body = self.body

            class R:
                def json(self):
                    return body

            return R()

    http = FakeHttp({"openid": "o1", "session_key": "k"})
    provider = WeChatCode2Session("appid", "secret", "https://wx.example", http=http)
    assert provider.exchange("c0de").openid == "o1"
    assert http.calls[0][0] == "https://wx.example/sns/jscode2session"
    assert http.calls[0][1]["js_code"] == "c0de"
    import pytest

    from backend.platform.errors import NotAuthenticated

    with pytest.raises(NotAuthenticated):
        WeChatCode2Session("a", "s", "https://wx", http=FakeHttp({"errcode": 40029})).exchange(
            "bad"
        )


def test_refresh_gives_a_new_token_for_a_session_in_force(client):
    headers = login(client, "dealer1")
    response = client.post("/api/v1/auth/refresh", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == "dealer1" and body["expires_in"] == 3600
    fresh = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=fresh).get_json()["username"] == "dealer1"


def test_refresh_refuses_expired_revoked_and_missing_tokens(app, client):
    secret = app.extensions["finedge"].config.secret_key
    expired = issue_token(
        Actor(1, "admin", "admin", 1), secret, ttl_s=60, now=utcnow() - timedelta(hours=2)
    )
    bearer = {"Authorization": f"Bearer {expired}"}
    assert_error(client.post("/api/v1/auth/refresh", headers=bearer), 401, "token_expired")
    assert_error(client.post("/api/v1/auth/refresh"), 401, "unauthenticated")
    admin = login(client, "admin")
    victim = login(client, "dealer2")
    users = client.get("/api/v1/admin/users", headers=admin, query_string={"limit": 200})
    dealer2 = next(u for u in users.get_json()["items"] if u["username"] == "dealer2")
    disabled = client.post(
        f"/api/v1/admin/users/{dealer2['id']}/disable",
        headers={**admin, "Idempotency-Key": "disable-dealer2"},
    )
    assert disabled.status_code == 200, disabled.get_json()
    response = client.post("/api/v1/auth/refresh", headers=victim)
    assert response.status_code == 401


def test_refresh_with_an_idempotency_key_is_never_replayed(client):
    headers = {**login(client, "dealer1"), "Idempotency-Key": "same-key"}
    first = client.post("/api/v1/auth/refresh", headers=headers)
    second = client.post("/api/v1/auth/refresh", headers=headers)
    assert first.status_code == second.status_code == 200
