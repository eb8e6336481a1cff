"""The branch IoT hub's central side: device registry, provisioning, twins, alarms, signed
commands, and the storage of every branch's uplinks. The MQTT side (hub, ingest threads) is a
process role (backend/roles/); the root gives it this area's uplink storage."""

from __future__ import annotations

from backend.devices.directory import Directory
from backend.devices.jobs import JOBS
from backend.devices.seed import seed_devices
from backend.platform.areas import Area, LiveEvent, Provide
from backend.platform.live import Audience
from backend.platform.ports import DeviceDirectory, DeviceLink, HallForDevices

# REST: admins see every device, staff with a branch their branch's (registry.visible_branch_filter)
DEVICE_READERS = Audience(roles=("admin",), branch_roles=("teller", "rm", "approver", "loader"))

AREA = Area(
    name="devices",
    description="branch devices: registry, provisioning, ingest, twins, alarms, commands",
    models=("backend.devices.models",),
    blueprints=("miniapp_api.devices",),
    jobs=JOBS,
    seeders=(seed_devices,),
    benchmarks={
        "mqtt-ingest": "bench.mqtt_ingest",
        "hub-refresh": "bench.hub_refresh",
        "scale": "bench.scale",
    },
    live_events=(
        LiveEvent(
            "device.state",
            "miniapp_api.devices:DeviceStateOut",
            audience="the branch's staff and admins",
            rule=DEVICE_READERS,
        ),
        LiveEvent(
            "device.alarm",
            "miniapp_api.devices:AlarmOut",
            "the branch's staff and admins",
            rule=DEVICE_READERS,
        ),
    ),
    provides=(Provide(DeviceDirectory, lambda _wiring: Directory()),),
    needs=(HallForDevices, DeviceLink),
)
