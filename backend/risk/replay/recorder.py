"""Every signal change with its simulated time, by comparing the signals table after each
step of a replay with what the previous step left.

Diffing the table (rather than collecting the lifecycle's ``Changes``) sees every way a
signal changes - raised, escalated, expired by the live path or the scan, and closes by a
person (confirmed, dismissed, lifted) - whoever made it.  Only the rows that can still change
are read: those active after the last step and those newer than the newest one seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.platform.clock import isoformat
from backend.risk import catalog
from backend.risk.models import ACTIVE_STATUSES, Enterprise, RiskSignal

RECORDED = ("confirmed", "dismissed", "lifted", "expired")
# the columns a change line needs: read as plain rows, not ORM objects (a replay reads the
# active signals after every file and every scan)
COLUMNS = (
    RiskSignal.id,
    RiskSignal.enterprise_id,
    RiskSignal.status,
    RiskSignal.level,
    RiskSignal.base_level,
    RiskSignal.origin,
    RiskSignal.rule_id,
    RiskSignal.rule_version,
    RiskSignal.backfill,
    RiskSignal.raised_at,
    RiskSignal.escalated_at,
    RiskSignal.closed_at,
)
_ORDER = {"raised": 0, "escalated": 1, "confirmed": 2, "dismissed": 3, "lifted": 3, "expired": 3}


class SignalRecorder:
    def __init__(self) -> None:
        self.active: dict[int, tuple[str, str]] = {}  # id -> (status, level)
        self.max_id = 0
        self.enterprises: dict[int, tuple[str | None, str]] = {}

    def capture(self, session: Session, at: datetime) -> list[dict[str, Any]]:
        """The changes since the last call, in time order (``at``: the step's clock, used
        when a row carries no time of its own)."""
        session.flush()
        rows = list(
            session.execute(
                select(*COLUMNS)
                .where(or_(RiskSignal.id > self.max_id, RiskSignal.status.in_(ACTIVE_STATUSES)))
                .order_by(RiskSignal.id)
            )
        )
        seen = {r.id for r in rows}
        gone = [i for i in self.active if i not in seen]
        if gone:
            rows += list(session.execute(select(*COLUMNS).where(RiskSignal.id.in_(gone))))
        changed = [
            r for r in rows if r.id > self.max_id or self.active.get(r.id) != (r.status, r.level)
        ]
        self._names(session, {r.enterprise_id for r in changed})
        out: list[tuple[tuple, dict[str, Any]]] = []
        for signal in changed:
            for change in self._changes(signal, at):
                out.append(((change["time"], signal.id, _ORDER[change["change"]]), change))
            self.max_id = max(self.max_id, signal.id)
            if signal.status in ACTIVE_STATUSES:
                self.active[signal.id] = (signal.status, signal.level)
            else:
                self.active.pop(signal.id, None)
        out.sort(key=lambda item: item[0])
        return [line for _key, line in out]

    def _names(self, session: Session, ids: set[int]) -> None:
        for ent_id, code, name in session.execute(
            select(Enterprise.id, Enterprise.credit_code, Enterprise.name).where(
                Enterprise.id.in_(sorted(ids))
            )
        ):
            self.enterprises[ent_id] = (code, name)

    def _line(self, signal, change: str, when, level: str, previous: str | None):
        code, name = self.enterprises.get(signal.enterprise_id, (None, ""))
        return {
            "type": "signal",
            "time": when,
            "change": change,
            "signal_id": signal.id,
            "enterprise_id": signal.enterprise_id,
            "credit_code": code,
            "name": name,
            "level": level,
            "previous_level": previous,
            "origin": signal.origin,
            "rule_id": signal.rule_id,
            "rule_version": signal.rule_version,
            "backfill": bool(signal.backfill),
        }

    def _changes(self, signal, at: datetime) -> list[dict[str, Any]]:
        def stamp(value: datetime | None) -> str:
            return isoformat(value or at)

        lines = []
        before = self.active.get(signal.id)
        if before is None and signal.id > self.max_id:
            lines.append(
                self._line(signal, "raised", stamp(signal.raised_at), signal.base_level, None)
            )
            before = ("open", signal.base_level)
        if before is None:
            return lines  # closed before we first saw it
        status, level = before
        if catalog.level_rank(signal.level) > catalog.level_rank(level):
            lines.append(
                self._line(signal, "escalated", stamp(signal.escalated_at), signal.level, level)
            )
        if signal.status != status and signal.status in RECORDED:
            when = signal.closed_at if signal.status != "confirmed" else None
            lines.append(self._line(signal, signal.status, stamp(when), signal.level, signal.level))
        return lines
