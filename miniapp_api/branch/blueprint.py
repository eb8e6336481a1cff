"""The branch hall's blueprint (``blp``, one for every view module of this package) and what
its views share: the Hall of a request (``hall()``: this app's live emitter, device command
sender, secret key and board coalescer) and its clock (``now()``).

The blueprint's record hook also installs this app's Hall as the process's (runtime.configure),
for the device ingest, which runs outside requests.
"""

from __future__ import annotations

import logging

from flask import current_app
from flask_smorest import Blueprint

from backend.branch import runtime
from backend.branch.runtime import Hall
from backend.platform.context import SYSTEM

log = logging.getLogger(__name__)

blp = Blueprint(
    "branch",
    __name__,
    url_prefix="/api/v1",
    description="Branch hall: queue, counters, flow, face consent, fleet, cash loading",
)


# --------------------------------------------------------------------------- wiring


def _sender(ext):
    def send(device_id: str, name: str, args: dict) -> None:
        hub = ext.extras.get("devices")
        if hub is None:
            log.warning("command %s to %s not sent: no device hub in this process", name, device_id)
            return
        hub.commands.send(SYSTEM, device_id, name, args, wait_s=0)

    return send


def _hall_for(ext) -> Hall:
    override = ext.extras.get("branch_hall")
    if isinstance(override, Hall):
        return override
    # One board coalescer per app: the Halls of requests and the ingest's share its timers.
    boards = ext.extras.setdefault("branch_boards", runtime.BoardCoalescer())
    return Hall(
        live=ext.live,
        send_command=_sender(ext),
        secret_key=ext.config.secret_key,
        boards=boards,
    )


def hall() -> Hall:
    return _hall_for(current_app.extensions["finedge"])


@blp.record_once
def _configure_runtime(state) -> None:
    # The device ingest runs outside requests: give it this app's emitter, key and commands.
    ext = state.app.extensions.get("finedge")
    if ext is not None:
        runtime.configure(_hall_for(ext))


def now():
    return hall().now()
