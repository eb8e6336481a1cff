"""Login lock-out is no free denial of service (issue 13, item 10; OWASP ASVS v4 2.2.1):
per-account exponential back-off (the right password during it gets 429 with Retry-After,
after it logs in; attempts during it are not counted), failures sent from other addresses do
not lock a user out of an address they logged in from before, a per-address limit, audit
records; mini-program login creates a bounded number of accounts. Time passes by moving the
recorded failures back, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from backend.identity.models import LoginFailure, User, WxSignup
from backend.platform.audit import AuditRecord
from tests.integration.test_app_errors import assert_error

TOKEN = "/api/v1/auth/token"
WX = "/api/v1/auth/wx-login"


def _try(client, username, password, address="127.0.0.1"):
    return client.post(
        TOKEN,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _age(app, seconds: int) -> None:
    """As if ``seconds`` had passed since every recorded failure."""
    with app.extensions["finedge"].session_factory() as s:
        for failure in s.scalars(select(LoginFailure)):
            failure.at -= timedelta(seconds=seconds)
        s.commit()


def _count(app, model, *where) -> int:
    with app.extensions["finedge"].session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_backoff_doubles_refuses_even_the_right_password_and_then_ends(app, client):
    for _ in range(5):
        assert_error(_try(client, "dealer2", "bad"), 401, "invalid_credentials")
    refused = _try(client, "dealer2", "dealer2-demo")
    body = assert_error(refused, 429, "login_rate_limited")
    assert body["details"]["scope"] == "account"
    assert 0 < int(refused.headers["Retry-After"]) == body["details"]["retry_after_s"] <= 30
    for _ in range(10):  # hammering during the back-off is refused and not counted
        assert_error(_try(client, "dealer2", "bad"), 429, "login_rate_limited")
    assert _count(app, LoginFailure, LoginFailure.username == "dealer2") == 5

    _age(app, 31)  # the back-off is over: one more wrong password doubles it
    assert_error(_try(client, "dealer2", "bad"), 401, "invalid_credentials")
    refused = _try(client, "dealer2", "dealer2-demo")
    assert 30 < int(refused.headers["Retry-After"]) <= 60

    _age(app, 61)  # over again: the right password logs in (never a permanent lock)
    assert _try(client, "dealer2", "dealer2-demo").status_code == 200
    assert _count(app, LoginFailure, LoginFailure.username == "dealer2") == 0
    with app.extensions["finedge"].session_factory() as s:
        records = s.scalars(select(AuditRecord).where(AuditRecord.action == "login.backoff")).all()
    assert [r.after["failures"] for r in records] == [5, 6]
    assert records[0].object_id == "dealer2" and records[0].after["retry_after_s"] == 30


def test_failures_from_elsewhere_do_not_lock_a_user_out_of_their_usual_address(app, client):
    assert _try(client, "dealer1", "dealer1-demo", "192.0.2.10").status_code == 200  # usual
    for attacker, times in (("198.51.100.1", 4), ("198.51.100.2", 4), ("198.51.100.3", 2)):
        for _ in range(times):
            assert_error(_try(client, "dealer1", "bad", attacker), 401, "invalid_credentials")
    # 10 failures of the account: a new address is held back, the usual one is not
    refused = _try(client, "dealer1", "dealer1-demo", "203.0.113.7")
    assert assert_error(refused, 429)["details"]["scope"] == "account_all_addresses"
    assert _try(client, "dealer1", "dealer1-demo", "192.0.2.10").status_code == 200


def test_one_address_is_limited_over_all_accounts(make_app, sqlite_url):
    app = make_app(sqlite_url, login_max_failures_per_address=6)
    client = app.test_client()
    for name in ("ghost1", "ghost2", "ghost3"):
        for _ in range(2):
            assert_error(_try(client, name, "x", "198.51.100.9"), 401)
    refused = _try(client, "oem1", "oem1-demo", "198.51.100.9")
    assert assert_error(refused, 429, "login_rate_limited")["details"]["scope"] == "address"
    assert _try(client, "oem1", "oem1-demo", "192.0.2.1").status_code == 200  # others may
    assert _count(app, AuditRecord, AuditRecord.action == "login.address_limited") == 1


def test_wx_login_creates_a_bounded_number_of_accounts(make_app, sqlite_url):
    app = make_app(sqlite_url, wx_signups_per_address=2, wx_fake_signups_per_day=3)
    client = app.test_client()

    def wx(openid, address):
        return client.post(
            WX, json={"code": f"fake:{openid}"}, environ_base={"REMOTE_ADDR": address}
        )

    assert wx("a1", "198.51.100.1").status_code == 200
    assert wx("a2", "198.51.100.1").status_code == 200
    refused = wx("a3", "198.51.100.1")
    body = assert_error(refused, 429, "wx_signup_rate_limited")
    assert body["details"]["scope"] == "address"
    assert int(refused.headers["Retry-After"]) == body["details"]["retry_after_s"] > 0
    assert wx("a1", "198.51.100.1").status_code == 200  # an existing account still logs in
    assert wx("b1", "198.51.100.2").status_code == 200  # the third new account of the day
    refused = wx("c1", "198.51.100.3")  # a fresh address, but the demo's daily cap is reached
    assert assert_error(refused, 429, "wx_signup_rate_limited")["details"]["scope"] == "overall"
    assert _count(app, User, User.wx_openid.is_not(None)) == _count(app, WxSignup) == 3
    assert_error(wx("x" * 65, "198.51.100.4"), 401, "invalid_wx_code")  # no 64+ openid
