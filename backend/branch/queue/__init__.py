"""Soft queuing (软叫号): tickets, counters, positions, estimated waits and the live pushes.

Tickets come from the mini-program (``remote``: booked from outside, held until the client
checks in at the branch), from staff (``staff``: a lobby manager issuing for a walk-in, VIP or
elderly client) and from the kiosk through the branch edge (``kiosk``, see ../reconcile.py).
Counters call them; the order is rules.py's: priority with aging.

    halls.lock_hall          every change locks the branch's hall row first (serialised)
    service/                 the write side: tickets, counters, calls, caller, rerouting
      -> serving             a ticket put at a counter, a call ended, a shift opened or closed
      -> pushes.queue_changed   version bump; queue.update: to staff what changed (delta),
                             to each client their ticket when it changed; the board
                             (display.queue) to the hall displays; queue.sync to the edge
    queries                  the read side: the queue as the caller may see it, one ticket
    snapshot -> views        the open queue at one instant -> what staff, clients and displays see
    standings                call order, positions and estimated waits, all in one pass
    delta                    what changed since the branch room's last picture (kept per branch)

Importing the package imports none of its modules.
"""
