"""``finedge bench scale --quick --json`` (the hub half, then the web half) and the hub half
alone: rows in the contract's format (no timing asserted); its time limit ends it with an error
instead of a hang. Needs this machine's PostgreSQL, Mosquitto (127.0.0.1:1883) and Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench import scale_hub
from tests.conftest import PG_ADMIN_URL, _pg_reason, port_open

pytestmark = [pytest.mark.postgres, pytest.mark.mosquitto, pytest.mark.slow]

KEYS = {"bench", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "params"}
HUB_METRICS = [
    "hub_stored_per_s_2_hubs",
    "hub_stored_per_s_1_hub",
    "hub_p99_ms_2_hubs",
    "hub_p99_ms_1_hub",
]


@pytest.fixture
def servers():
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    if not port_open("127.0.0.1", 1883):
        pytest.skip("no Mosquitto listening on 127.0.0.1:1883")
    return {"pg_admin_url": PG_ADMIN_URL, "mqtt_url": "mqtt://127.0.0.1:1883"}


def check_row(row: dict) -> None:
    assert set(row) == KEYS and row["bench"] == "scale"
    json.dumps(row)
    assert row["value"] > 0 and row["baseline_value"] > 0 and row["ratio"] > 0


def test_hub_half_rows_follow_the_contract(servers):
    rows = scale_hub.run({"quick": True, "branches": 3, "burst": 300, "seconds": 1, **servers})
    assert [r["metric"] for r in rows] == HUB_METRICS
    for row in rows:
        check_row(row)
    params = rows[0]["params"]
    assert params["rows"] == params["published"]  # every message stored exactly once
    assert params["one_hub"]["owned"] == [3] and sum(params["two_hubs"]["owned"]) == 3
    assert min(params["two_hubs"]["owned"]) >= 1  # the second hub got its share


def test_hub_half_time_limit_ends_the_run_with_an_error(servers):
    with pytest.raises(TimeoutError, match="time limit"):
        scale_hub.run({"quick": True, "time_limit_s": 0.5, **servers})


@pytest.mark.timeout(600)
def test_finedge_bench_scale_quick_json(servers):
    if not port_open("127.0.0.1", 6379):
        pytest.skip("Redis not reachable on 127.0.0.1:6379")
    env = {**os.environ, "FINEDGE_BENCH_PG_URL": PG_ADMIN_URL}
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", "bench", "scale", "--quick", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=550,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["metric"] for r in rows][:4] == HUB_METRICS
    assert len(rows) == 8  # and the web half's four
    for row in rows:
        check_row(row)
