"""The finedge console script: one-line errors, non-zero exits, stdin passwords."""

import json

import pytest
from click.testing import CliRunner

from backend.cli import main


@pytest.fixture
def runner(monkeypatch, sqlite_url):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return CliRunner()


def test_every_command_has_help(runner):
    for args in (
        ["--help"],
        ["db", "upgrade", "--help"],
        ["seed", "--help"],
        ["users", "add", "--help"],
        ["jobs", "run", "--help"],
        ["bench", "--help"],
        ["serve", "--help"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)


def test_db_upgrade_seed_is_idempotent_and_prints_logins(runner):
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(main, ["seed", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "dealer1-demo" in first.output
    second = runner.invoke(main, ["seed", "--quiet"])
    assert json.loads(second.output.splitlines()[0])["users_created"] == []


def test_users_add_reads_password_from_stdin(runner):
    runner.invoke(main, ["seed", "--quiet"])
    ok = runner.invoke(
        main,
        ["users", "add", "--username", "t3", "--role", "teller", "--org", "BR001"],
        input="a-long-password\n",
    )
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(
        main,
        ["users", "add", "--username", "t3", "--role", "teller", "--org", "BR001"],
        input="a-long-password\n",
    )
    assert dup.exit_code != 0 and dup.output.strip().count("\n") == 0 and "exists" in dup.output
    bad_role = runner.invoke(
        main,
        ["users", "add", "--username", "t4", "--role", "pirate", "--org", "BR001"],
        input="a-long-password\n",
    )
    assert bad_role.exit_code != 0 and "role 'pirate' cannot be given" in bad_role.output


def test_seed_refused_in_production(runner, monkeypatch):
    monkeypatch.setenv("FINEDGE_ENV", "production")
    monkeypatch.setenv("FINEDGE_SECRET_KEY", "p" * 40)
    result = runner.invoke(main, ["seed", "--quiet"])
    assert result.exit_code != 0 and "refused" in result.output


def test_production_start_refused_without_secret(runner, monkeypatch):
    monkeypatch.setenv("FINEDGE_ENV", "production")
    result = runner.invoke(main, ["serve", "--port", "0"])
    assert result.exit_code != 0 and "FINEDGE_SECRET_KEY" in result.output


def test_jobs_run_and_unknown_job(runner):
    ok = runner.invoke(main, ["jobs", "run", "purge_idempotency_keys"])
    assert ok.exit_code == 0 and json.loads(ok.output)["outcome"] == "ok"
    bad = runner.invoke(main, ["jobs", "run", "nope"])
    assert bad.exit_code != 0 and "no job named" in bad.output
