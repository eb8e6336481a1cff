"""0014_biometric_hardening: door camera messages already stored lose their face encodings,
lock.arm commands already stored lose the digest of their one-time code."""

from __future__ import annotations

import json

from sqlalchemy import text

from backend.devices.uplinks import KEPT_FIELDS
from backend.platform import migrate
from backend.platform.db import make_engine
from edge.protocol import SEALED
from tests.integration.test_migrations import empty_db_url  # noqa: F401 (fixture)

BEFORE = "0011_hub_leases"
NOW = "2026-12-01 10:00:00"


def test_stored_encodings_and_code_digests_are_removed(empty_db_url):  # noqa: F811
    migrate.upgrade(empty_db_url, BEFORE)
    engine = make_engine(empty_db_url)
    encoding = [0.0873141] * 128
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO devices (id, device_id, branch_id, device_type, model, status,"
                    " mqtt_username, online, state, desired, desired_version, reported,"
                    " reported_version, command_seq, created_at, updated_at) VALUES (1, 'CAM',"
                    " 'B1', 'camera', '', 'active', 'CAM', false, :e, :e, 0, :e, 0, 0, :t, :t)"
                ),
                {"e": "{}", "t": NOW},
            )
            for n, (type_, data) in enumerate(
                [
                    ("camera.face", {"track_id": "t1", "quality": 0.9, "encoding": encoding}),
                    ("camera.person", {"track_id": "t2", "quality": 0.3}),
                    ("counter.transaction", {"encoding": "utf-8", "kind": "deposit"}),
                ]
            ):
                conn.execute(
                    text(
                        "INSERT INTO device_messages (envelope_id, device_pk, branch_id, channel,"
                        " type, seq, ts, received_at, historical, data) VALUES (:id, 1, 'B1',"
                        " 'event', :type, :n, :t, :t, false, :data)"
                    ),
                    {"id": f"e{n}", "type": type_, "n": n, "t": NOW, "data": json.dumps(data)},
                )
            for n, (name, args) in enumerate(
                [
                    ("lock.arm", {"task_id": "CT-1", "code_sha256": "ab" * 32, "loaders": []}),
                    ("lock.lock", {"task_id": "CT-1"}),
                ]
            ):
                conn.execute(
                    text(
                        "INSERT INTO device_commands (command_id, device_pk, name, args, status,"
                        " reason, created_at) VALUES (:id, 1, :name, :args, 'ok', '', :t)"
                    ),
                    {"id": f"c{n}", "name": name, "args": json.dumps(args), "t": NOW},
                )
        migrate.upgrade(empty_db_url, "0014_biometric_hardening")
        with engine.connect() as conn:
            data = dict(conn.execute(text("SELECT type, data FROM device_messages")).all())
            args = dict(conn.execute(text("SELECT name, args FROM device_commands")).all())
        decode = lambda v: v if isinstance(v, dict) else json.loads(v)  # noqa: E731
        assert decode(data["camera.face"]) == {"track_id": "t1", "quality": 0.9}
        assert decode(data["camera.person"]) == {"track_id": "t2", "quality": 0.3}
        assert decode(data["counter.transaction"])["encoding"] == "utf-8"  # other types kept
        assert decode(args["lock.arm"]) == {
            "task_id": "CT-1",
            "loaders": [],
            "code_mac": "[sealed for the device]",
        }
        assert decode(args["lock.lock"]) == {"task_id": "CT-1"}
        # what the migration keeps is what the code now stores
        assert SEALED == "[sealed for the device]"
        assert KEPT_FIELDS["camera.face"] == {"track_id", "quality", "model"}
    finally:
        engine.dispose()
