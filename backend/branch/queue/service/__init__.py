"""The queue's write side: every use case that changes tickets or counters, which the HTTP
views, the jobs and the hall's device-event hook call.

- ``tickets``: issue (remote or staff), check in, cancel, expire remote tickets (job)
- ``counters``: the services offered, a counter's configuration, open and close
- ``calls``: call next, recall, no-show, finish, transfer (staff at a counter)
- ``caller``: the window's call button (``caller.call_next``, ``caller.serving_done``)
- ``rerouting``: a counter's device offline (its client and services re-routed) and back

Each locks the branch's hall row first (halls.lock_hall), changes, audits and ends with
``pushes.queue_changed``; a display coming online gets the current board (``show_board_to``).
"""

from __future__ import annotations

from backend.branch.queue.pushes import show_board_to
from backend.branch.queue.service.caller import device_call_next, device_serving_done
from backend.branch.queue.service.calls import call_next, finish, no_show, recall, transfer
from backend.branch.queue.service.counters import (
    COUNTER_STATUSES,
    configure_services,
    set_counter_status,
    upsert_counter,
)
from backend.branch.queue.service.rerouting import counter_device_offline, counter_device_online
from backend.branch.queue.service.tickets import (
    cancel_ticket,
    check_in,
    expire_remote_tickets,
    issue_ticket,
)

__all__ = [
    "COUNTER_STATUSES",
    "call_next",
    "cancel_ticket",
    "check_in",
    "configure_services",
    "counter_device_offline",
    "counter_device_online",
    "device_call_next",
    "device_serving_done",
    "expire_remote_tickets",
    "finish",
    "issue_ticket",
    "no_show",
    "recall",
    "set_counter_status",
    "show_board_to",
    "transfer",
    "upsert_counter",
]
