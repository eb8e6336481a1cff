"""What the hall offers other areas through ports (``backend.platform.ports``), declared in
``area.py``: the device area's questions to the hall (``HallForDevices``: is a cash task open
for this machine, the counter map and timezone of a branch's edge, the state of the tickets an
edge issued), and the hall's own runtime (``Hall``: where its pushes and device commands go,
the key of encryption at rest, the clock), built once per process from the wiring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.branch.cash.queries import open_task_for_device
from backend.branch.edge_counters import counter_map, hall_timezone
from backend.branch.edge_sync import edge_ticket_statuses
from backend.branch.runtime import BoardCoalescer, Hall
from backend.platform.context import SYSTEM
from backend.platform.ports import DeviceLink
from backend.platform.wiring import Wiring


class HallPort:
    """The hall's implementation of ``HallForDevices``."""

    def cash_task_open(self, session: Session, cash_device_id: str, now: datetime) -> bool:
        return open_task_for_device(session, cash_device_id, now)

    def counter_map(self, session: Session, branch_id: str) -> list[dict[str, Any]] | None:
        return counter_map(session, branch_id)

    def timezone(self, session: Session, branch_id: str) -> str | None:
        return hall_timezone(session, branch_id)

    def edge_tickets(
        self, session: Session, branch_id: str, edge_id: str, now: datetime
    ) -> list[dict[str, Any]] | None:
        return edge_ticket_statuses(session, branch_id, edge_id, now)


def make_hall(wiring: Wiring) -> Hall:
    """The process's Hall: pushes through the process's emitter, device commands through its
    device link (fire and forget: the hall reads the device's answer from its ack), one board
    coalescer for every request and the ingest."""

    def send(device_id: str, name: str, args: dict[str, Any]) -> None:
        wiring.get(DeviceLink).send(SYSTEM, device_id, name, args, wait_s=0)

    return Hall(
        live=wiring.live,
        send_command=send,
        secret_key=wiring.config.secret_key,
        boards=BoardCoalescer(),
    )
