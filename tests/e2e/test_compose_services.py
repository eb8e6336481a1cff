"""Every FinEdge service of docker-compose.yml, its command line run without Docker in
FINEDGE_ENV=production against this machine's PostgreSQL and Redis and Mosquittos of the
checked-in dynamic-security configs (with throwaway TLS certificates), becomes healthy: the
migration exits 0, then, after the documented bootstrap and branch commands, web answers its
health endpoint, hub and scheduler their /readyz, and the edge's birth reaches the database.
The compose file's values are used as they are; only hosts, ports and the operator's secrets
are this machine's (tests/production_support.py)."""

from __future__ import annotations

import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import _pg_admin, _pg_reason, drop_pg_database, pg_url
from tests.iot_support import wait_for
from tests.production_support import ProductionRig

pytestmark = pytest.mark.timeout(300)

LONG_RUNNING = ("web", "hub", "scheduler", "edge-br001")


@pytest.fixture
def database():
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    name = f"finedge_compose_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    drop_pg_database(name)


def test_every_compose_service_becomes_healthy_in_production(database, tmp_path):
    rig = ProductionRig(tmp_path, database)
    try:
        assert all(
            rig.env_of(name)["FINEDGE_ENV"] == "production" for name in (*LONG_RUNNING, "migrate")
        )
        rig.migrate_and_bootstrap("--services", "cash,account")
        for name in LONG_RUNNING:
            rig.start(name, name)
        for name in ("web", "hub", "scheduler"):
            rig.wait_ready(name)
        engine = create_engine(database)
        try:

            def edge_online() -> bool:
                rig.alive("edge-br001")
                with engine.connect() as conn:
                    return bool(
                        conn.execute(
                            text(
                                "SELECT online FROM devices WHERE branch_id = 'BR001' "
                                "AND device_type = 'edge'"
                            )
                        ).scalar()
                    )

            wait_for(edge_online, 90, "the edge's birth in the database")
        finally:
            engine.dispose()
        auth = {"Authorization": f"Bearer {rig.token('web')}"}
        devices = requests.get(
            f"{rig.base('web')}/api/v1/devices?branch_id=BR001", headers=auth, timeout=10
        )
        assert [d["device_type"] for d in devices.json()["items"]] == ["edge"]
        for name in LONG_RUNNING:
            rig.alive(name)
    finally:
        codes = rig.close()
    for name, code in codes.items():  # SIGTERM is a clean stop for every role
        assert code == 0, f"{name} exited {code}:\n{rig.log_tail(name)}"
