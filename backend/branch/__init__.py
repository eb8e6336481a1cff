"""Branch hall (厅堂管家): the hall system of a branch, on top of the branch IoT hub.

Modules (docs/branch.md tells the whole story):

- ``rules``: pure queue rules (priority with aging, choice at a counter, estimated wait)
- ``queue``: tickets (remote with check-in, staff), positions, the ``queue.update`` pushes
- ``counters``: call next, recall, no-show, transfer and return, open/close, re-routing
- ``reconcile``: the branch edge's queue events applied at the centre, idempotently
- ``stats`` and ``chart``: customer flow statistics, a PNG and an HTML page
- ``face``: consent, enrolment, encrypted encodings, 1:N matching, VIP notice to the RM
- ``fleet``: smart-counter templates, staged rollouts with rollback, off-counter rate
- ``cash``: task-bound cash loading with vein locks (maker-checker, one-time unlock, ledger)
- ``events``: the hall's table of reactions to device uplinks (``UPLINKS``), which the central
  ingest calls through the routes the composition root builds
- ``devices_port``: the one door into the device area (the ``DeviceDirectory`` port);
  ``ports``: what the hall offers (``HallForDevices``, the process's ``Hall``); ``runtime``:
  the Hall (pushes and commands after commit); ``access``: who sees which branch;
  ``edge_counters``: the counter map synced to the branch edge; ``edge_sync``: what the centre
  did with the edge's kiosk tickets, synced back to it; ``jobs``, ``seed``; ``area``: the
  declaration the composition root reads

Importing the package wires nothing.
"""
