"""Routing: who hears about a signal, and how.

A signal goes to the enterprise's relationship manager and to every approver: one inbox item
each (``risk_inbox_items``) and a ``risk.signal`` push on Socket.IO to the rooms of those users
(``user:<rm>``, ``role:approver``).  Pushes are queued on the session and sent only after the
transaction commits, so nobody is told about a signal that was rolled back.

Jobs have no request; they use the emitter of their process, which the composition root
hands in with the session (``backend.platform.wiring.live_of``): with REDIS_URL set any process
reaches every client through the message queue."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import User
from backend.platform.after_commit import push_live
from backend.platform.live import LiveEmitter, rooms_for
from backend.platform.wiring import live_of
from backend.risk.models import Enterprise, InboxItem, RiskSignal
from backend.risk.queries.shapes import signal_dict

log = logging.getLogger(__name__)
EVENT = "risk.signal"


def approver_ids(session: Session) -> list[int]:
    cached = session.info.get("risk_approvers")
    if cached is None:
        cached = list(
            session.scalars(select(User.id).where(User.role == "approver", User.active.is_(True)))
        )
        session.info["risk_approvers"] = cached
    return cached


def route(
    session: Session,
    signal: RiskSignal,
    enterprise: Enterprise,
    what: str,
    live: LiveEmitter | None,
    *,
    now,
    extra_users: tuple[int, ...] = (),
    approvers: bool = True,
) -> None:
    """Inbox items for the RM, the approvers (unless ``approvers`` is false) and
    ``extra_users``, and one live push to the same people."""
    named = sorted({u for u in (enterprise.rm_user_id, *extra_users) if u is not None})
    users = set(named) | (set(approver_ids(session)) if approvers else set())
    for user_id in sorted(users):
        session.add(InboxItem(user_id=user_id, signal_id=signal.id, reason=what, created_at=now))
    push_live(
        session,
        live if live is not None else live_of(session),
        EVENT,
        {**signal_dict(signal, enterprise), "event": what},
        rooms_for(users=named, roles=["approver"] if approvers else []),
    )
