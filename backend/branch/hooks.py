"""What the hall plugs into the device area: the answer to "is a cash task open for this
machine?" (the safe-door rule), the hall's handler of uplinks (events.on_device_event), which
the device ingest calls for every new uplink inside its storing transaction, the counter
map the hub syncs to the branch edge (edge_counters.counter_map, with the hall's timezone:
edge_counters.hall_timezone), and the centre's state of
the edge's kiosk tickets the hub syncs back to it (edge_sync.edge_ticket_statuses)."""

from __future__ import annotations

from backend.branch.cash.queries import open_task_for_device


def install() -> None:
    from backend.branch.edge_counters import counter_map, hall_timezone
    from backend.branch.edge_sync import edge_ticket_statuses
    from backend.branch.events import on_device_event
    from backend.devices import hooks as device_hooks

    device_hooks.set_cash_task_probe(open_task_for_device)
    device_hooks.add_uplink_handler(on_device_event)
    device_hooks.set_counter_map_provider(counter_map)
    device_hooks.set_timezone_provider(hall_timezone)
    device_hooks.set_queue_sync_provider(edge_ticket_statuses)
