"""A staged smart-counter rollout halts by itself when a device rejects its template: the halt
(audit, device alarm, ``device.alarm`` push), advance refused with nothing changed, rollback
from halted, resume (strict, and excluding the rejecting devices), the hook through the real
ingest, a rejection seen only on read/advance, and another branch's staff getting 404."""

from __future__ import annotations

from sqlalchemy import select

from backend.branch import events
from backend.branch.models import FleetRollout, FleetRolloutDevice
from backend.branch.runtime import Hall
from backend.devices.models import Device, DeviceAlarm
from backend.devices.uplinks import Inbound
from backend.platform.audit import AuditRecord
from backend.platform.clock import utcnow
from backend.platform.db import session_scope
from backend.platform.live import RecordingEmitter
from backend.roles.ingest import IngestService
from edge.protocol import make_envelope, parse_topic
from tests.integration import test_branch_support as support

api = support.api  # fixture
branch_seeded_db = support.branch_seeded_db  # fixture
clock = support.clock  # fixture
hall = support.hall  # fixture
hall_app = support.hall_app  # fixture
hall_url = support.hall_url  # fixture

B = "BR001"
MODEL = "SC-3000 smart counter"
COUNTERS = ("BR001-CNT-01", "BR001-CNT-02", "BR001-CNT-03")
PARAMS = {"idle_timeout_s": 60, "services": ["transfer"]}
ALARM = "fleet_template_rejected"


# --------------------------------------------------------------------------- helpers


def _prepare(api) -> None:
    """CNT-01 had idle_timeout_s 120 before; the others had none of the template's keys."""
    with api.session() as s:
        for device_id in COUNTERS:
            device = s.scalar(select(Device).where(Device.device_id == device_id))
            device.desired = {"idle_timeout_s": 120} if device_id.endswith("01") else {}
            device.desired_version = 1
        s.commit()


def _start(api, percentage: int = 34) -> dict:
    template = api.ok(
        api.post("admin", "/fleet/templates", {"model": MODEL, "name": "hall", "params": PARAMS}),
        201,
    )
    body = {"template_id": template["id"], "percentage": percentage, "branch_id": B}
    return api.ok(api.post("admin", "/fleet/rollouts", body), 201)


def _set_reported(s, device_id: str, rejected: dict, version: int | None = None) -> int:
    """What the ingest stores for a config/reported (backend/devices/ingest.py)."""
    device = s.scalar(select(Device).where(Device.device_id == device_id))
    version = device.desired_version if version is None else version
    device.reported = {"config": {}, "rejected": rejected}
    device.reported_version = version
    s.flush()
    return version


def _report(api, hall, device_id: str, rejected: dict, version: int | None = None):
    """The device answers its desired version; the hall's hook sees it, as from the ingest."""
    with api.session() as s:
        version = _set_reported(s, device_id, rejected, version)
        env = make_envelope(
            "config.reported", {"version": version, "config": {}, "rejected": rejected}, 1
        )
        outcome = events.on_device_event(
            s, B, "counter", device_id, env, channel="config/reported", hall=hall
        )
        s.commit()
    return outcome


def _twins(api) -> dict[str, tuple[dict, int]]:
    with api.session() as s:
        return {
            d.device_id: (dict(d.desired), d.desired_version)
            for d in s.scalars(select(Device).where(Device.device_id.in_(COUNTERS)))
        }


def _alarms(api, device_id: str) -> list[DeviceAlarm]:
    with api.session() as s:
        return list(
            s.scalars(
                select(DeviceAlarm)
                .join(Device, Device.id == DeviceAlarm.device_pk)
                .where(Device.device_id == device_id, DeviceAlarm.rule == ALARM)
            )
        )


def _audits(api, rollout_id: int, action: str) -> list[AuditRecord]:
    with api.session() as s:
        return list(
            s.scalars(
                select(AuditRecord).where(
                    AuditRecord.object_type == "fleet_rollout",
                    AuditRecord.object_id == str(rollout_id),
                    AuditRecord.action == action,
                )
            )
        )


def _halted(api, hall) -> tuple[dict, str]:
    _prepare(api)
    r = _start(api)
    assert r["status"] == "running" and r["health"]["applied"] == 2
    first = r["devices"][0]["device_id"]
    assert _report(api, hall, first, {"services": "unknown service: transfer"}) == "rollout_halted"
    return r, first


# --------------------------------------------------------------------------- both databases


def test_rejection_halts_advance_refused_rollback_restores(make_app, db_url, hall):
    app = make_app(db_url)
    app.extensions["finedge"].wiring.provide(Hall, hall)
    with session_scope(app.extensions["finedge"].session_factory) as s:
        support.add_other_branch(s)
    api = support.Api(app)
    _prepare(api)
    before = _twins(api)
    r, first = _halted(api, hall)
    rid = r["id"]

    # halted: status, audit with the device and its keys, a major alarm pushed to branch+admins
    view = api.ok(api.get("admin", f"/fleet/rollouts/{rid}"))
    assert view["status"] == "halted" and view["percentage"] == 34
    states = {d["device_id"]: (d["state"], d["rejected"]) for d in view["devices"]}
    assert states[first] == ("rejected", ["services"])
    (halt,) = _audits(api, rid, "fleet.rollout_halted")
    assert halt.actor_username == "system" and halt.after["detected_by"] == "device_report"
    assert halt.after["devices"][0]["device_id"] == first
    assert halt.after["devices"][0]["rejected"] == {"services": "unknown service: transfer"}
    (alarm,) = _alarms(api, first)
    assert alarm.active and alarm.severity == "major" and alarm.details["rollout_id"] == rid
    pushes = [(e, d, rooms) for e, d, rooms in hall.live.sent if e == "device.alarm"]
    assert [(d["device_id"], d["rule"]) for _e, d, _r in pushes] == [(first, ALARM)]
    assert set(pushes[0][2]) == {f"branch:{B}", "role:admin"}

    # advance refused: 422 with the rejecting devices; no device and no rollout changed
    twins = _twins(api)
    refused = api.post("admin", f"/fleet/rollouts/{rid}/advance", {"percentage": 100})
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "rollout_halted"
    assert [d["device_id"] for d in error["details"]["devices"]] == [first]
    assert _twins(api) == twins
    assert api.ok(api.get("admin", f"/fleet/rollouts/{rid}"))["health"]["applied"] == 2
    # a halted rollout still blocks a second rollout of the model
    again = api.post(
        "admin", "/fleet/rollouts", {"template_id": r["template"]["id"], "percentage": 50}
    )
    assert again.status_code == 409

    # another branch's staff: 404 for everything; the branch's own teller: 403 (admin only)
    for path, body in (
        (f"/fleet/rollouts/{rid}/advance", {"percentage": 100}),
        (f"/fleet/rollouts/{rid}/rollback", None),
        (f"/fleet/rollouts/{rid}/resume", None),
    ):
        assert api.post("teller9", path, body).status_code == 404
        assert api.post("teller1", path, body).status_code == 403
    assert api.get("teller9", f"/fleet/rollouts/{rid}").status_code == 404
    assert api.get("teller1", f"/fleet/rollouts/{rid}").status_code == 403
    assert api.get("admin", "/fleet/rollouts/999999").status_code == 404

    # rollback from halted restores exactly (absent keys removed again) and clears the alarm
    back = api.ok(api.post("admin", f"/fleet/rollouts/{rid}/rollback"))
    assert back["status"] == "rolled_back" and back["health"]["rolled_back"] == 2
    assert {d: t[0] for d, t in _twins(api).items()} == {d: t[0] for d, t in before.items()}
    (alarm,) = _alarms(api, first)
    assert not alarm.active and alarm.cleared_at is not None
    (rolled,) = _audits(api, rid, "fleet.rollout_rolled_back")
    assert rolled.before == {"status": "halted"}


# --------------------------------------------------------------------------- SQLite (HTTP)


def test_rollout_without_rejection_advances_as_before(api, hall):
    _prepare(api)
    r = _start(api)
    first, second = (d["device_id"] for d in r["devices"])
    # in sync; a refusal of a key the template does not set; an older version's refusal
    assert _report(api, hall, first, {}) is None
    assert _report(api, hall, second, {"volume": "unknown setting"}) is None
    with api.session() as s:
        device = s.scalar(select(Device).where(Device.device_id == second))
        stale = device.desired_version - 1
    assert _report(api, hall, second, {"services": "old refusal"}, version=stale) is None
    view = api.ok(api.get("admin", f"/fleet/rollouts/{r['id']}"))
    assert view["status"] == "running"
    assert {d["device_id"]: d["state"] for d in view["devices"]} == {
        first: "in_sync",
        second: "pending",
    }
    grown = api.ok(api.post("admin", f"/fleet/rollouts/{r['id']}/advance", {"percentage": 100}))
    assert grown["status"] == "completed" and grown["health"]["applied"] == 3
    assert not _audits(api, r["id"], "fleet.rollout_halted")
    assert all(t[0]["idle_timeout_s"] == 60 for t in _twins(api).values())


def test_resume_refused_while_rejecting_then_continues_once_fixed(api, hall):
    r, first = _halted(api, hall)
    rid = r["id"]
    assert (
        api.post("admin", f"/fleet/rollouts/{rid}/advance", {"percentage": 50}).status_code == 422
    )
    refused = api.post("admin", f"/fleet/rollouts/{rid}/resume")
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "rollout_still_rejected"
    assert [d["device_id"] for d in error["details"]["devices"]] == [first]
    assert api.ok(api.get("admin", f"/fleet/rollouts/{rid}"))["status"] == "halted"

    # the device is fixed: it answers the same version again without refusing anything
    assert _report(api, hall, first, {}) is None
    resumed = api.ok(api.post("admin", f"/fleet/rollouts/{rid}/resume", {}))
    assert resumed["status"] == "running" and resumed["health"]["in_sync"] == 1
    (audit,) = _audits(api, rid, "fleet.rollout_resumed")
    assert audit.actor_username == "admin" and audit.after["excluded"] == []
    (alarm,) = _alarms(api, first)
    assert not alarm.active
    resume_again = api.post("admin", f"/fleet/rollouts/{rid}/resume")
    assert resume_again.get_json()["error"]["code"] == "rollout_not_halted"
    grown = api.ok(api.post("admin", f"/fleet/rollouts/{rid}/advance", {"percentage": 100}))
    assert grown["status"] == "completed" and grown["health"]["applied"] == 3


def test_resume_after_the_rejecting_device_is_retired(api, hall):
    r, first = _halted(api, hall)
    with api.session() as s:
        s.scalar(select(Device).where(Device.device_id == first)).status = "retired"
        s.commit()
    resumed = api.ok(api.post("admin", f"/fleet/rollouts/{r['id']}/resume"))
    assert resumed["status"] == "running" and resumed["health"]["retired"] == 1
    grown = api.ok(api.post("admin", f"/fleet/rollouts/{r['id']}/advance", {"percentage": 100}))
    assert grown["status"] == "completed"
    # a rollback leaves the retired twin alone (it takes no configuration) and restores the rest
    back = api.ok(api.post("admin", f"/fleet/rollouts/{r['id']}/rollback"))
    assert back["status"] == "rolled_back" and back["health"]["rolled_back"] == 2


def test_resume_excluding_the_rejecting_devices_rolls_them_back(api, hall):
    before = _twins(api)
    r, first = _halted(api, hall)
    rid = r["id"]
    resumed = api.ok(
        api.post("admin", f"/fleet/rollouts/{rid}/resume", {"exclude_rejecting": True})
    )
    assert resumed["status"] == "running" and resumed["health"]["rolled_back"] == 1
    twins = _twins(api)
    expected_first = {"idle_timeout_s": 120} if first.endswith("01") else {}
    assert twins[first][0] == expected_first  # its previous values, exactly
    (audit,) = _audits(api, rid, "fleet.rollout_resumed")
    assert audit.after["excluded"] == [first]
    assert not _alarms(api, first)[0].active
    # the excluded device stays out of the later stages
    grown = api.ok(api.post("admin", f"/fleet/rollouts/{rid}/advance", {"percentage": 100}))
    assert grown["status"] == "completed" and grown["health"]["applied"] == 2
    assert _twins(api)[first] == twins[first]
    back = api.ok(api.post("admin", f"/fleet/rollouts/{rid}/rollback"))
    assert back["health"]["rolled_back"] == 3
    assert {d: t[0] for d, t in _twins(api).items()} == {
        d: ({"idle_timeout_s": 120} if d.endswith("01") else {}) for d in before
    }


def test_rejection_stored_before_the_hook_halts_on_read(api, hall):
    _prepare(api)
    r = _start(api)
    first = r["devices"][0]["device_id"]
    with api.session() as s:  # stored without the hall's hook running
        _set_reported(s, first, {"idle_timeout_s": "out of range"})
        s.commit()
    view = api.ok(api.get("admin", f"/fleet/rollouts/{r['id']}"))
    assert view["status"] == "halted"
    (halt,) = _audits(api, r["id"], "fleet.rollout_halted")
    assert halt.after["detected_by"] == "read"
    assert [e for e, _d, _r in hall.live.sent].count("device.alarm") == 1


def test_rejection_found_by_advance_stays_halted_although_refused(api, hall):
    _prepare(api)
    r = _start(api)
    first = r["devices"][0]["device_id"]
    with api.session() as s:
        _set_reported(s, first, {"services": "unknown service: transfer"})
        s.commit()
    twins = _twins(api)
    refused = api.post("admin", f"/fleet/rollouts/{r['id']}/advance", {"percentage": 100})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "rollout_halted"
    assert _twins(api) == twins
    with api.session() as s:
        rollout = s.get(FleetRollout, r["id"])
        assert (rollout.status, rollout.percentage) == ("halted", 34)
        assert (
            s.scalar(
                select(FleetRolloutDevice.id)
                .where(FleetRolloutDevice.rollout_id == r["id"])
                .offset(2)
            )
            is None
        )
    (halt,) = _audits(api, r["id"], "fleet.rollout_halted")
    assert halt.after["detected_by"] == "advance"
    assert len(_alarms(api, first)) == 1


def test_the_ingest_hook_halts_the_rollout(api, hall):
    """Through the real ingest: it stores the report, then calls the hall's hook."""
    _prepare(api)
    r = _start(api)
    first = r["devices"][0]["device_id"]
    with api.session() as s:
        version = s.scalar(select(Device.desired_version).where(Device.device_id == first))
    ingest = IngestService(api.app.extensions["finedge"].session_factory, RecordingEmitter())
    topic = parse_topic(f"fe/v1/{B}/counter/{first}/config/reported")
    env = make_envelope(
        "config.reported",
        {"version": version, "config": {}, "rejected": {"services": "unknown service"}},
        5,
    )
    ingest.write([Inbound(topic, env, utcnow())])
    assert ingest.stats["handler_errors"] == 0
    with api.session() as s:
        assert s.get(FleetRollout, r["id"]).status == "halted"
    (halt,) = _audits(api, r["id"], "fleet.rollout_halted")
    assert halt.after["detected_by"] == "device_report"
