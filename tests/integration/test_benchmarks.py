"""Every registered benchmark in its quick form through ``finedge bench NAME --json --quick``,
so that none breaks unseen: rows in the contract's format (docs/CONTRACT.md §4), no timing
asserted. A benchmark an area adds is covered here without a line changed; the ones whose
quick form another module already runs through the CLI are left to it (``RUN_ELSEWHERE``).

And the runner's time limit: a throwaway benchmark that hangs (and ignores SIGTERM, with a
process of its own in another session) is stopped at its limit with one error line, a
non-zero exit and nothing left running; one that fails ends with one error line."""

from __future__ import annotations

import importlib
import json
import math
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import backend.bootstrap
from backend.bootstrap import benchmarks
from backend.cli import main
from backend.platform import benchmarks as runner
from tests.iot_support import wait_for

pytestmark = pytest.mark.slow

KEYS = {"bench", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "params"}
RUN_ELSEWHERE = {
    "queue": "tests/integration/test_queue_bench.py",
    "hub-refresh": "tests/integration/test_hub_refresh.py",
    "scale": "tests/e2e/test_bench_scale.py",
}
LOWER_IS_BETTER = {"ms", "s", "B"}  # times and sizes: ratio = baseline / value
HIGHER_IS_BETTER = {"1/s"}  # rates: ratio = value / baseline


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_rows(name: str, rows: list[dict]) -> None:
    """The contract's row format; ``ratio`` oriented so that higher is better."""
    assert rows, f"{name}: no rows"
    for row in rows:
        assert set(row) == KEYS, row
        assert row["bench"] == name, row
        for key in ("metric", "baseline"):
            assert isinstance(row[key], str) and row[key], (key, row)
        assert isinstance(row["unit"], str), row  # "" for a count
        for key in ("value", "baseline_value", "ratio"):
            assert _number(row[key]), (key, row)
        assert isinstance(row["params"], dict)
        value, base, ratio = row["value"], row["baseline_value"], row["ratio"]
        assert base > 0 and value > 0 and ratio > 0, row
        oriented = {"higher": value / base, "lower": base / value}
        if row["unit"] in LOWER_IS_BETTER:
            allowed = [oriented["lower"]]
        elif row["unit"] in HIGHER_IS_BETTER:
            allowed = [oriented["higher"]]
        else:
            allowed = list(oriented.values())
        # the figures are rounded in the rows: compare with their precision
        assert any(abs(ratio - x) <= 0.02 * x + 0.011 for x in allowed), (allowed, row)


@pytest.mark.parametrize("name", sorted(set(benchmarks()) - set(RUN_ELSEWHERE)))
def test_quick_form_through_the_cli(name):
    # a benchmark that needs what a machine may lack (bench.pages: Chromium) says why
    unavailable = getattr(importlib.import_module(benchmarks()[name]), "unavailable", None)
    reason = unavailable() if unavailable is not None else None
    if reason:
        pytest.skip(reason)
    result = CliRunner().invoke(main, ["bench", name, "--json", "--quick"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "error:" not in result.stderr
    lines = result.stdout.splitlines()
    rows = [json.loads(line) for line in lines]  # stdout holds the rows only
    check_rows(name, rows)


def test_benchmarks_run_elsewhere_are_still_registered():
    assert set(RUN_ELSEWHERE) <= set(benchmarks())
    for module in RUN_ELSEWHERE.values():
        assert Path(module).is_file()


@pytest.fixture
def stuck(monkeypatch):
    """``finedge bench stuck``: the throwaway benchmark of tests/stuck_bench.py."""
    known = {**benchmarks(), "stuck": "tests.stuck_bench"}
    monkeypatch.setattr(backend.bootstrap, "benchmarks", lambda: known)

    def mode(value: str) -> None:
        monkeypatch.setenv("FINEDGE_TEST_BENCH", value)

    return mode


def test_rows_on_stdout_and_the_rest_on_stderr(stuck):
    stuck("rows")
    result = CliRunner().invoke(main, ["bench", "stuck", "--json", "--quick"])
    assert result.exit_code == 0, result.output + result.stderr
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    check_rows("stuck", [row])
    assert row["params"] == {"quick": True, "time_limit_s": 1.0}  # its TIME_LIMIT_S
    assert "a note the benchmark prints on stdout" in result.stderr
    given = CliRunner().invoke(main, ["bench", "stuck", "--json", "--time-limit", "30"])
    assert json.loads(given.stdout)["params"] == {"quick": False, "time_limit_s": 30.0}


def test_a_failing_benchmark_ends_with_one_error_line(stuck):
    stuck("fail")
    result = CliRunner().invoke(main, ["bench", "stuck", "--json", "--quick"])
    assert result.exit_code == runner.EXIT_FAILED
    assert result.stdout == ""
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error == (
        "error: benchmark 'stuck' failed: RuntimeError: the bench's broker would not start"
    )
    assert "Traceback" not in result.stderr


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie has ended; its new parent reaps it


def test_a_hanging_benchmark_is_stopped_at_its_time_limit(stuck, tmp_path, monkeypatch):
    stuck("hang")
    pidfile = tmp_path / "helper.pid"
    monkeypatch.setenv("FINEDGE_TEST_BENCH_PIDFILE", str(pidfile))
    started = time.monotonic()
    result = CliRunner().invoke(main, ["bench", "stuck", "--json", "--quick"])
    elapsed = time.monotonic() - started
    assert result.exit_code == runner.EXIT_TIME_LIMIT, result.output + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "error: benchmark 'stuck' exceeded its time limit of 1 s and was stopped"
    )
    # a bound, not a measurement: the limit, its grace, SIGTERM's wait, start-up
    assert elapsed < 1 + runner.GRACE_MAX_S + runner.STOP_WAIT_MAX_S + 15
    helper = int(pidfile.read_text())
    wait_for(lambda: _gone(helper), timeout=10, what="the benchmark's own process to end")


def test_time_limit_must_be_positive():
    result = CliRunner().invoke(main, ["bench", "ledger", "--quick", "--time-limit", "0"])
    assert result.exit_code == 2 and "time-limit" in result.stderr
    with pytest.raises(ValueError, match="positive"):
        runner.time_limit("tests.stuck_bench", True, -1)
