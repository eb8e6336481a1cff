"""The web half of ``finedge bench scale`` in its quick form: a production web instance on
this machine's PostgreSQL and Redis, a few Socket.IO clients; rows in the contract's format
(no timing asserted), and its time limit ends it with an error instead of a hang."""

from __future__ import annotations

import json

import pytest

from bench import scale_web
from tests.conftest import PG_ADMIN_URL, _pg_reason, port_open

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

KEYS = {"bench", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "params"}


@pytest.fixture
def servers():
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    if not port_open("127.0.0.1", 6379):
        pytest.skip("Redis not reachable on 127.0.0.1:6379")
    return {"pg_admin_url": PG_ADMIN_URL, "redis_url": "redis://127.0.0.1:6379/0"}


def test_quick_rows_follow_the_contract(servers):
    rows = scale_web.run({"quick": True, "clients": 20, **servers})
    assert [r["metric"] for r in rows] == [
        "socketio_clients_held",
        "get_rate_with_clients",
        "get_p99_with_clients",
        "live_fanout_ms",
    ]
    for row in rows:
        assert set(row) == KEYS and row["bench"] == "scale"
        json.dumps(row)  # plain JSON
        assert row["value"] > 0 and row["baseline_value"] > 0 and row["ratio"] > 0
        assert row["params"]["clients"] == 20 and row["params"]["get_errors"] == 0
    held = rows[0]
    assert (held["value"], held["unit"], held["ratio"]) == (20, "clients", 1.0)
    assert rows[3]["params"]["received"] == 20  # the fan-out reached every held client
    rate, p99 = rows[1], rows[2]
    assert rate["unit"] == "1/s" and p99["unit"] == "ms"
    assert abs(rate["ratio"] - rate["value"] / rate["baseline_value"]) < 0.01
    assert abs(p99["ratio"] - p99["baseline_value"] / p99["value"]) < 0.01  # higher is better


def test_time_limit_ends_the_run_with_an_error(servers):
    with pytest.raises(TimeoutError, match="time limit"):
        scale_web.run({"quick": True, "time_limit_s": 0.5, **servers})
