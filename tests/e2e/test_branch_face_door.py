"""The door camera through the real path (simulated camera -> branch broker -> edge -> central
broker -> hub ingest -> database), on SQLite with amqtt and on PostgreSQL with Mosquitto
(``hall_stack``): a stranger's face leaves no trace of its encoding in any table or in the log;
a consenting client's sighting keeps only client, device, time and distance; what is not a
face encoding is dropped with the camera's ``face_encoding_refused`` alarm and never stops the
recognition of anyone else."""

from __future__ import annotations

import base64
import logging
import re
from contextlib import ExitStack

import numpy as np
import pytest
from sqlalchemy import select

from backend.branch.face import gallery as galleries
from backend.branch.face.service import REFUSED_RULE
from backend.branch.models import FaceSighting
from backend.devices.models import DeviceAlarm
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import Api, HallStack
from tests.iot_support import add_branch, hall_brokers, iot_rig, unique_branch, wait_for
from tests.leak_scan import table_texts

branch_seeded_db = support.branch_seeded_db  # fixture
hall_url = support.hall_url  # fixture
hall_stack = support.hall_stack  # fixture: sqlite-amqtt, postgres-mosquitto

pytestmark = pytest.mark.timeout(120)

MODEL = "dlib_face_recognition_resnet_model_v1"


def _face(rng: np.random.Generator) -> list[float]:
    """Face-shaped (norm ~1.4, like dlib's), six decimals so each value is distinctive."""
    vector = rng.normal(0.0, 0.124, 128)
    return [round(float(x), 6) for x in vector]


def _jitter(rng: np.random.Generator, encoding: list[float]) -> list[float]:
    return [round(x + float(rng.normal(0.0, 0.01)), 6) for x in encoding]


def _traces(encoding: list[float]) -> tuple[list[re.Pattern], list[str]]:
    """Each value as JSON writes it (not inside a longer number such as a timestamp), and
    the vector's bytes as float64 and float32, in hex and base64."""
    values = [re.compile(rf"(?<![0-9.:]){re.escape(repr(x))}(?![0-9])") for x in encoding]
    raw = [np.asarray(encoding, dtype=d).tobytes() for d in ("<f8", "<f4")]
    blobs = [b.hex() for b in raw] + [base64.b64encode(b).decode() for b in raw]
    blobs += [base64.urlsafe_b64encode(b).decode() for b in raw]
    return values, blobs


def _hits(texts: list[str], encoding: list[float]) -> int:
    values, blobs = _traces(encoding)
    return sum(1 for t in texts for p in values if p.search(t)) + sum(
        1 for t in texts for b in blobs if b in t
    )


def _client(app, username: str) -> int:
    with session_scope(app.extensions["finedge"].session_factory) as session:
        org = session.scalar(select(Org).where(Org.code == "CLIENTS"))
        user = identity.create_user(
            session, SYSTEM, username=username, password=f"{username}-demo", role="client", org=org
        )
        return user.id


def _door(make_app, hall_stack, tmp_path):
    app = make_app(hall_stack.database_url, seeded=False)
    # PostgreSQL is truncated between tests (ids restart): a gallery cached by another test
    # could have the same version (count, highest id) as this one's
    with app.extensions["finedge"].session_factory() as session:
        galleries.forget(str(session.get_bind().url))
    branch = unique_branch()
    identities = add_branch(app, branch, {"camera": 1}, tmp_path / "creds.json")
    camera_id = next(i.device_id for i in identities if i.device_type == "camera")
    return app, branch, identities, camera_id


def _running(stack, app, hall_stack, tmp_path, branch, identities):
    """The branch's brokers, hub, edge and devices, live."""
    central, branch_url = stack.enter_context(
        hall_brokers(hall_stack.brokers, app, tmp_path, branch)
    )
    rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
    rig.branch_url = branch_url
    for start in (rig.start_hub, rig.start_edge, lambda: rig.start_fleet(identities)):
        start()
    rig.wait_live()
    return rig


def _publish_face(rig, camera, track: str, encoding: object) -> str:
    env = camera.publish(
        "event",
        "camera.face",
        {"track_id": track, "quality": 0.9, "model": MODEL, "encoding": encoding},
    )
    return env.id


def _sightings(app, user_id: int) -> list[FaceSighting]:
    with app.extensions["finedge"].session_factory() as session:
        return list(session.scalars(select(FaceSighting).where(FaceSighting.user_id == user_id)))


def test_a_stranger_leaves_no_trace_and_a_client_only_what_consent_covers(
    make_app, hall_stack: HallStack, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    app, branch, identities, camera_id = _door(make_app, hall_stack, tmp_path)
    api = Api(app)
    rng = np.random.default_rng()
    username = f"door-{branch.lower()}"
    member_id = _client(app, username)
    member, stranger = _face(rng), _face(rng)
    api.ok(api.post(username, "/face/consent", {}))
    api.ok(api.post(username, "/face/enrol", {"encoding": member}), 201)
    at_door = _jitter(rng, member)
    ext = app.extensions["finedge"]

    with ExitStack() as stack:
        rig = _running(stack, app, hall_stack, tmp_path, branch, identities)
        camera = rig.device(camera_id)
        ids = {
            _publish_face(rig, camera, "t-stranger", stranger),
            _publish_face(rig, camera, "t-member", at_door),
        }
        rig.wait_ids(ids)
        wait_for(lambda: len(_sightings(app, member_id)) == 1, 20, "the client's sighting")

        with ext.session_factory() as session:
            texts = table_texts(session)
        rows = {
            m.data["track_id"]: m.data for m in rig.messages(camera_id) if m.type == "camera.face"
        }
    everything = [row for rows_ in texts.values() for row in rows_]
    # the stranger: nothing of the face in any table or in the log
    assert _hits(everything, stranger) == 0
    assert _hits([caplog.text], stranger) == 0
    # the client: the face seen at the door is not kept either (only the enrolled one,
    # encrypted), and the message rows keep only the track, quality and model
    assert _hits(everything, at_door) == 0 and _hits(everything, member) == 0
    assert _hits([caplog.text], at_door) == 0
    assert rows["t-stranger"] == {"track_id": "t-stranger", "quality": 0.9, "model": MODEL}
    assert rows["t-member"] == {"track_id": "t-member", "quality": 0.9, "model": MODEL}
    [sighting] = _sightings(app, member_id)
    assert (sighting.branch_id, sighting.device_id) == (branch, camera_id)
    assert 0 <= sighting.distance < 0.6 and sighting.at is not None
    assert sorted(c.name for c in FaceSighting.__table__.columns) == [
        "at",
        "branch_id",
        "device_id",
        "distance",
        "id",
        "user_id",
    ]
    with ext.session_factory() as session:
        assert len(session.scalars(select(FaceSighting)).all()) == 1  # no stranger kept


GARBAGE = {
    "norm_out_of_range": [1e308] * 128,
    "wrong_length": [0.1] * 127,
    "not_numbers": ["0.1"] * 128,
    "component_out_of_range": [5.0] + [0.0] * 127,
}


def test_garbage_from_the_door_camera_is_dropped_with_an_alarm_and_others_still_match(
    make_app, hall_stack: HallStack, tmp_path
):
    app, branch, identities, camera_id = _door(make_app, hall_stack, tmp_path)
    api = Api(app)
    rng = np.random.default_rng()
    username = f"door-{branch.lower()}"
    member_id = _client(app, username)
    member = _face(rng)
    api.ok(api.post(username, "/face/consent", {}))
    api.ok(api.post(username, "/face/enrol", {"encoding": member}), 201)
    ext = app.extensions["finedge"]

    def alarm() -> DeviceAlarm | None:
        with ext.session_factory() as session:
            return session.scalar(
                select(DeviceAlarm).where(
                    DeviceAlarm.branch_id == branch, DeviceAlarm.rule == REFUSED_RULE
                )
            )

    with ExitStack() as stack:
        rig = _running(stack, app, hall_stack, tmp_path, branch, identities)
        camera = rig.device(camera_id)
        first = _publish_face(rig, camera, "t-bad-0", [0.0] * 128)  # the zero vector
        rig.wait_ids({first})
        wait_for(alarm, 20, "the camera's refused-encoding alarm")
        raised = alarm()
        assert raised.severity == "minor" and raised.active
        assert raised.details["reason"] == "norm_out_of_range"
        ids = {
            _publish_face(rig, camera, f"t-bad-{reason}", garbage)
            for reason, garbage in GARBAGE.items()
        }
        ids.add(_publish_face(rig, camera, "t-member", _jitter(rng, member)))
        rig.wait_ids(ids)
        wait_for(lambda: len(_sightings(app, member_id)) == 1, 20, "the client still recognised")
        with ext.session_factory() as session:
            assert len(session.scalars(select(FaceSighting)).all()) == 1
            assert session.scalar(select(User.id).where(User.id == member_id)) == member_id
        stored = [m.data for m in rig.messages(camera_id) if m.type == "camera.face"]
        assert stored and all("encoding" not in data for data in stored)
