"""Who a simulated device is: what provisioning hands it (``DeviceIdentity``), and the demo
seed's credentials file that ``finedge devices`` reads them from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DeviceIdentity:
    """What provisioning hands a device: who it is and its secrets (see docs/iot.md)."""

    branch_id: str
    device_type: str
    device_id: str
    mqtt_username: str
    mqtt_password: str
    hmac_secret: str
    model: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceIdentity:
        return cls(
            branch_id=data["branch_id"],
            device_type=data["device_type"],
            device_id=data["device_id"],
            mqtt_username=data.get("mqtt_username") or data["device_id"],
            mqtt_password=data["mqtt_password"],
            hmac_secret=data["hmac_secret"],
            model=data.get("model") or "",
        )


def load_identities(path: str | Path) -> list[DeviceIdentity]:
    """A credentials file written by the demo seed: ``{"devices": [{...}, ...]}``."""
    data = json.loads(Path(path).read_text())
    return [DeviceIdentity.from_dict(item) for item in data.get("devices", [])]
