"""The caller's risk inbox: marking an item read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.platform.clock import isoformat, utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.risk.access import ensure_reader
from backend.risk.models import Enterprise, InboxItem, RiskSignal
from backend.risk.queries.shapes import signal_dict


def mark_read(session: Session, actor: Actor, item_id: int, *, now: datetime | None = None) -> dict:
    ensure_reader(actor)
    item = session.get(InboxItem, item_id)
    if item is None or item.user_id != actor.user_id:
        raise NotFound("inbox item not found", code="inbox_item_not_found")
    if item.read_at is None:
        item.read_at = now or utcnow()
    signal = session.get(RiskSignal, item.signal_id)
    return {
        "id": item.id,
        "reason": item.reason,
        "created_at": isoformat(item.created_at),
        "read_at": isoformat(item.read_at),
        "signal": signal_dict(signal, session.get(Enterprise, signal.enterprise_id)),
    }
