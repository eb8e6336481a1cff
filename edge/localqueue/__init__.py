"""The branch's local ticket queue, owned by the edge so that kiosks and callers keep working
while the link to the centre is down, with the hall's own rules (edge/queue_rules.py).

- queue.py: ``LocalQueue``, issuing and calling tickets, positions and estimated waits;
- tickets.py: the ticket model and its rows in the edge store, the kiosk's category;
- day.py: numbering by the branch's local day (the hall's timezone, or the edge's default);
- counters.py: the hall's counter map (synced from the centre) and the calling rules it gives;
- sync.py: what the centre did with the edge's tickets (``queue.sync``), applied by time.

Every change is also an event on the edge's own topic (``queue.ticket_issued``,
``queue.ticket_called``, ``queue.ticket_done``), emitted by the edge (edge/hall.py) through
the outbox, so the centre catches up after an outage (backend/branch/reconcile.py).
"""

from edge.localqueue.counters import ALL_SERVICES, CounterMap, CounterRules, CounterSkills
from edge.localqueue.day import DEFAULT_TIMEZONE, LocalDay, load_zone
from edge.localqueue.queue import LocalQueue
from edge.localqueue.sync import CentreTicket, QueueSync, SyncResult
from edge.localqueue.tickets import FINISHED, Ticket, check_category

__all__ = [
    "ALL_SERVICES",
    "DEFAULT_TIMEZONE",
    "FINISHED",
    "CentreTicket",
    "CounterMap",
    "CounterRules",
    "CounterSkills",
    "LocalDay",
    "LocalQueue",
    "QueueSync",
    "SyncResult",
    "Ticket",
    "check_category",
    "load_zone",
]
