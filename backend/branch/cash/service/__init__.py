"""Cash loading's write side: what people do with a task (``maker_checker``: create, approve,
cancel, review) and what the vein lock and the cash machine report, with the centre's answers
(``flow``: verification, the one-time unlock, the exchange, counting, booking, closing; the job
voiding unused unlocks). The device-event hook calls ``flow``'s handlers.

maker_checker imports flow (a review books as the flow does); flow imports neither it nor this
package's door: both build on ../tasks.py.
"""

from __future__ import annotations

from backend.branch.cash.service.flow import (
    CASH_EVENTS,
    expire_unlocks,
    on_cash_event,
    on_unlocked,
    on_verification,
)
from backend.branch.cash.service.maker_checker import (
    approve_task,
    cancel_task,
    create_task,
    review_task,
)

__all__ = [
    "CASH_EVENTS",
    "approve_task",
    "cancel_task",
    "create_task",
    "expire_unlocks",
    "on_cash_event",
    "on_unlocked",
    "on_verification",
    "review_task",
]
