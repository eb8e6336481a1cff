"""Branch hall (厅堂管家): the hall system of a branch, on top of the branch IoT hub.

Subareas, each with its write side in ``service`` and its read side in ``queries``
(docs/branch.md has the module map and tells the whole story):

- ``queue``: soft queuing (tickets, calls at counters, re-routing, the ``queue.update`` pushes)
- ``stats``: customer flow statistics, a PNG and an HTML page
- ``face``: consent, enrolment, encrypted encodings, 1:N matching, VIP notice to the RM
- ``fleet``: smart-counter templates, staged rollouts with rollback, off-counter rate
- ``cash``: task-bound cash loading with vein locks (maker-checker, one-time unlock, ledger)
- ``veins``: finger-vein consent and enrolment at the locks

Around them: ``rules`` (pure queue rules), ``halls``, ``access``, ``consent``, ``alarms``,
``reconcile`` (the edge's queue events at the centre), ``edge_counters`` and ``edge_sync``
(what the branch edge is told), ``events`` (the hall's table of reactions to device uplinks,
``UPLINKS``, routed by the central ingest), ``devices_port`` (the one door into the device
area: the ``DeviceDirectory`` port), ``ports`` (what the hall offers: ``HallForDevices``, the
process's ``Hall``), ``runtime`` (the Hall: pushes and commands after commit), ``jobs``,
``seed``, ``area`` (the declaration the composition root reads).

Importing the package wires nothing.
"""
