"""Production from an empty database with only the documented commands: ``finedge db upgrade``,
``finedge bootstrap`` (idempotent, password from standard input, never overwritten), then
``finedge orgs|branches|users ...``; the API of a production app on the same database sees the
result, and a user disabled from the command line loses their token at once."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backend.cli import main
from backend.identity.models import Branch, Org, User
from backend.platform.audit import AuditRecord
from tests.integration.test_app_errors import assert_error

SECRET = "production-secret-of-the-test-" + "x" * 20


@pytest.fixture
def prod(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    monkeypatch.setenv("FINEDGE_ENV", "production")
    monkeypatch.setenv("FINEDGE_SECRET_KEY", SECRET)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def _refused(result, text: str):
    assert result.exit_code == 2, result.output
    assert result.output.strip().count("\n") == 0 and text in result.output, result.output


def _production_app(make_app, url):
    return make_app(url, seeded=False)


def test_bootstrap_makes_the_bank_and_its_admin_once(prod, make_app):
    _refused(run("bootstrap", input="a-strong-password\n"), "finedge db upgrade")
    _ok(run("db", "upgrade"))
    out = _ok(
        run("bootstrap", "--org-name", "Bank of Test", "--admin", "root", input="first-pass-1\n")
    )
    assert "org BANK: created" in out and "admin 'root': created" in out
    again = _ok(run("bootstrap", "--admin", "root", input="another-pass-2\n"))
    assert again.startswith("nothing to do") and "unchanged" in again
    app = _production_app(make_app, prod)
    client = app.test_client()
    good = client.post("/api/v1/auth/token", json={"username": "root", "password": "first-pass-1"})
    assert good.status_code == 200 and good.get_json()["user"]["role"] == "admin"
    assert_error(
        client.post("/api/v1/auth/token", json={"username": "root", "password": "another-pass-2"}),
        401,
    )
    with app.extensions["finedge"].session_factory() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1  # no demo users
        bank = s.scalar(select(Org).where(Org.code == "BANK"))
        assert (bank.name, bank.kind) == ("Bank of Test", "bank")
    _refused(run("bootstrap", "--admin", "x", input="short\n"), "password too short")
    _ok(run("orgs", "add", "DLR", "--name", "A dealer", "--kind", "dealer"))
    _refused(run("bootstrap", "--org-code", "DLR", input="first-pass-1\n"), "dealer org")


def test_a_branch_and_its_staff_from_the_command_line(prod, make_app):
    _ok(run("db", "upgrade"))
    _ok(run("bootstrap", input="admin-pass-123\n"))
    _ok(run("orgs", "add", "OEM1", "--name", "Motors", "--kind", "oem"))
    _ok(run("orgs", "add", "DEALER1", "--name", "Dealer", "--kind", "dealer", "--parent", "OEM1"))
    _refused(run("orgs", "add", "OEM1", "--name", "Again", "--kind", "oem"), "exists")
    out = _ok(
        run(
            "branches",
            "add",
            "BR010",
            "--name",
            "Branch Ten",
            "--hours",
            "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00",
            "--timezone",
            "Asia/Shanghai",
            "--services",
            "cash,account",
            "--counter",
            "1:Window 1:cash,account:BR010-CALL-01",
            "--counter",
            "2:Window 2:cash",
        )
    )
    shown = json.loads(out)
    assert shown["opening_hours"]["fri"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert "sun" not in shown["opening_hours"] and shown["services"] == ["account", "cash"]
    assert [c["counter_id"] for c in shown["counters"]] == ["1", "2"]
    _refused(run("branches", "add", "BR011", "--name", "x", "--hours", "mon 9-5"), "opening hours")
    _refused(run("branches", "add", "BR011", "--name", "x", "--counter", "1:x"), "counter")
    edited = json.loads(_ok(run("branches", "edit", "BR010", "--services", "cash", "--no-hours")))
    assert edited["services"] == ["cash"] and edited["opening_hours"] is None
    assert "BR010" in _ok(run("branches", "list"))

    _ok(
        run(
            "users",
            "add",
            "--username",
            "t10",
            "--role",
            "teller",
            "--org",
            "BR010",
            input="teller-pass-1\n",
        )
    )
    _refused(
        run(
            "users",
            "add",
            "--username",
            "t11",
            "--role",
            "teller",
            "--org",
            "DEALER1",
            input="teller-pass-1\n",
        ),
        "cannot belong",
    )
    listed = json.loads(_ok(run("users", "list", "--role", "teller", "--json")))
    assert [(u["username"], u["branch_id"]) for u in listed["items"]] == [("t10", "BR010")]

    app = _production_app(make_app, prod)
    client = app.test_client()
    login = client.post("/api/v1/auth/token", json={"username": "t10", "password": "teller-pass-1"})
    token = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    assert client.get("/api/v1/branches/BR010", headers=token).status_code == 200
    _ok(run("users", "disable", "t10"))
    assert_error(client.get("/api/v1/branches/BR010", headers=token), 401, "account_disabled")
    _ok(run("users", "enable", "t10"))
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "t10", "password": "wrong"})
    assert_error(
        client.post("/api/v1/auth/token", json={"username": "t10", "password": "teller-pass-1"}),
        429,
    )
    _ok(run("users", "unlock", "t10"))
    _ok(run("users", "reset-password", "t10", input="teller-pass-2\n"))
    login = client.post("/api/v1/auth/token", json={"username": "t10", "password": "teller-pass-2"})
    assert login.status_code == 200
    _ok(run("users", "set-role", "t10", "rm"))
    assert login.get_json()["user"]["role"] == "teller"
    token = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    assert_error(client.get("/api/v1/auth/me", headers=token), 401, "token_revoked")
    _refused(run("users", "disable", "ghost"), "no user")
    with app.extensions["finedge"].session_factory() as s:
        actions = set(s.scalars(select(AuditRecord.action)))
        operators = set(s.scalars(select(AuditRecord.actor_username)))
        assert s.scalar(select(Branch.org_id).where(Branch.code == "BR010")) is not None
    assert {
        "user.created",
        "user.disabled",
        "user.enabled",
        "user.unlocked",
        "user.password_reset",
        "user.changed",
        "branch.created",
        "branch.changed",
        "org.created",
    } <= actions
    assert any(name.startswith("cli:") for name in operators)


def test_every_admin_command_has_help():
    for args in (
        ["bootstrap"],
        ["orgs"],
        ["orgs", "add"],
        ["orgs", "edit"],
        ["orgs", "list"],
        ["branches"],
        ["branches", "add"],
        ["branches", "edit"],
        ["branches", "show"],
        ["branches", "list"],
        ["users"],
        ["users", "add"],
        ["users", "list"],
        ["users", "disable"],
        ["users", "enable"],
        ["users", "unlock"],
        ["users", "reset-password"],
        ["users", "set-role"],
    ):
        result = run(*args, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, (args, result.output)
