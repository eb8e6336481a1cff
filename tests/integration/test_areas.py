"""The composition root's seams: a throwaway area (tests/throwaway_area.py) handed to
``bootstrap`` is served over HTTP (and in the OpenAPI spec), scheduled, seeded, pushed with its
own schema, benchmarked and fed the uplinks of its device kind; an area whose needs nobody
offers is refused; importing an area's package wires nothing."""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backend.bootstrap import AREAS, benchmarks, bootstrap, collect_areas
from backend.devices.models import Device, DeviceMessage
from backend.devices.uplinks import Inbound
from backend.platform.config import Config
from backend.platform.db import session_scope
from backend.platform.live import RecordingEmitter
from backend.platform.wiring import PortMissing
from backend.roles.ingest import IngestService
from backend.seed import seed
from edge.protocol import Topic, make_envelope
from tests import throwaway_area as throwaway
from tests.conftest import login


@pytest.fixture
def runtime(sqlite_url):
    live = RecordingEmitter()
    runtime = bootstrap(
        Config.from_env(database_url=sqlite_url), "web", extra_areas=[throwaway.AREA], live=live
    )
    throwaway.SEEDED.clear()
    throwaway.PRINTER_EVENTS.clear()
    with session_scope(runtime.session_factory) as session:
        seed(session, runtime.config, areas=runtime.areas)
    yield runtime
    runtime.stop()


def test_a_throwaway_area_is_served_and_documented(runtime):
    assert throwaway.SEEDED == ["seeded"]  # its seeder ran with the others
    client = runtime.app.test_client()
    response = client.get("/api/v1/throwaway/motto", headers=login(client, "teller1"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "motto": "money moves only through the ledger",
        "asked_by": "teller1",
    }
    assert client.get("/api/v1/throwaway/motto").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/throwaway/motto" in spec["paths"]


def test_its_job_runs_with_the_ports_and_pushes_through_its_schema(runtime):
    assert runtime.jobs.get("throwaway.tick").every_s == 3600
    run = runtime.run_job("throwaway.tick", now=lambda: datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    assert (run.outcome, run.result) == ("ok", {"motto": "money moves only through the ledger"})
    [(event, payload, rooms)] = runtime.live.sent
    assert event == "throwaway.tick" and rooms == ["role:admin"]
    assert payload == {  # rendered by the declared schema: "internal" never leaves
        "at": "2026-12-03T08:00:00+00:00",
        "motto": "money moves only through the ledger",
    }
    assert benchmarks(runtime.areas)["throwaway"] == "tests.throwaway_area"


def test_the_uplinks_of_its_device_kind_reach_its_handler(runtime):
    now = datetime.now(UTC)
    with session_scope(runtime.session_factory) as session:
        session.add(
            Device(
                device_id="PRN-1",
                branch_id="BR001",
                device_type="printer",
                model="kiosk-printer",
                status="active",
                mqtt_username="PRN-1",
                state={},
                desired={},
                reported={},
                created_at=now,
                updated_at=now,
            )
        )
    ingest = IngestService(runtime.session_factory, RecordingEmitter())
    env = make_envelope("printer.out_of_paper", {"tray": 2}, 1)
    item = Inbound(Topic("BR001", "printer", "PRN-1", "event"), env, now, env.timestamp)
    ingest.write([item])
    ingest.write([item])  # the same envelope again: stored and handled once
    assert throwaway.PRINTER_EVENTS == [("PRN-1", "printer.out_of_paper", "2")]
    with runtime.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeviceMessage)) == 1


def test_another_runtime_without_the_area_knows_nothing_of_it(sqlite_url, runtime):
    plain = bootstrap(Config.from_env(database_url=sqlite_url), "web")
    try:
        client = plain.app.test_client()
        headers = login(client, "teller1")
        assert client.get("/api/v1/throwaway/motto", headers=headers).status_code == 404
        assert "throwaway.tick" not in plain.jobs.jobs
    finally:
        plain.stop()


def test_an_area_whose_needs_nobody_offers_is_refused(sqlite_url):
    config = Config.from_env(database_url=sqlite_url)
    with pytest.raises(PortMissing, match=r"needy.*Almanac"):
        bootstrap(config, "test", extra_areas=[throwaway.NEEDY])
    both = bootstrap(config, "test", extra_areas=[throwaway.AREA, throwaway.NEEDY])
    both.stop()
    with pytest.raises(ValueError, match="declared twice"):
        bootstrap(config, "test", extra_areas=[throwaway.AREA, throwaway.AREA])


def test_every_declared_area_names_only_what_exists():
    for area in collect_areas():
        for module in (*area.models, *area.blueprints, *area.benchmarks.values()):
            importlib.import_module(module.partition(":")[0])
        for event in area.live_events:
            assert event.name.count(".") == 1, event.name
    assert len(AREAS) == len({a.name for a in collect_areas()})


def test_importing_the_areas_wires_nothing():
    """A fresh interpreter imports every area's package and declaration: no job is scheduled,
    no port installed, no handler added anywhere (there is nowhere to add them)."""
    code = (
        "import importlib, sys\n"
        "from backend.bootstrap import AREAS\n"
        "for name in AREAS: importlib.import_module(name)\n"
        "from backend.platform import live, jobs\n"
        "assert not hasattr(live, 'process_emitter') and not hasattr(jobs, 'registry')\n"
        "import backend.branch, backend.devices\n"
        "assert 'backend.roles.hub' not in sys.modules, 'a domain import started a role'\n"
        "assert 'flask' not in sys.modules, 'a domain import pulled in Flask'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_live_event_is_documented_with_the_schema_that_renders_it(client):
    """The spec lists each declared Socket.IO event (``x-live-events``) with its payload schema,
    and the emitter renders the event with that very schema."""
    spec = client.get("/api/v1/openapi.json").get_json()
    events = spec["x-live-events"]
    live = client.application.extensions["finedge"].live
    declared = [e for area in collect_areas() for e in area.live_events]
    assert set(events) == {e.name for e in declared} == set(live.renderers)
    for event in declared:
        ref = events[event.name]["payload"]["$ref"].rsplit("/", 1)[1]
        assert ref in spec["components"]["schemas"], event.name
        assert event.schema.rsplit(":", 1)[1].removesuffix("Schema") == ref
        assert live.renderers[event.name].__self__.__class__.__name__ == event.schema.split(":")[1]
