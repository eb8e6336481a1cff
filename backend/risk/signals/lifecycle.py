"""Signals: turning findings (from rules, the model and contagion) into graded signals that
are de-duplicated, escalated when repeated, expired when their cause is gone, and routed.

For each (enterprise, rule) at most one signal is active (``active_key`` is unique):

- a finding with no active signal raises one, unless a person dismissed or lifted the last
  signal of that rule and the finding brings no evidence beyond what they saw;
- a finding whose evidence adds something new (an event not yet counted, a higher model
  level) is one more occurrence: the signal's evidence grows, and after the rule's
  ``escalate.after`` occurrences its level goes up (e.g. three margin shortfalls -> hard);
- a finding with nothing new only refreshes ``last_seen_at``: no new signal, no new push;
- an open, non-hard signal whose rule no longer matches expires; hard signals never expire
  on their own: the warning workflow (backend/risk/service/decisions.py) resolves them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.context import SYSTEM
from backend.platform.live import LiveEmitter
from backend.risk import catalog
from backend.risk.models import ACTIVE_STATUSES, Enterprise, RiskSignal
from backend.risk.scoring.ruleset import Finding
from backend.risk.signals.routing import route


@dataclass
class SignalBook:
    """An enterprise's active signals and the last human-closed signal per rule."""

    active: dict[str, RiskSignal] = field(default_factory=dict)
    closed: dict[str, RiskSignal] = field(default_factory=dict)


@dataclass
class Changes:
    raised: list[RiskSignal] = field(default_factory=list)
    escalated: list[RiskSignal] = field(default_factory=list)
    expired: list[RiskSignal] = field(default_factory=list)
    refreshed: int = 0
    suppressed: int = 0
    # audit records and routing wait for ids: done by ``finish`` after one flush
    pending: list[tuple[str, RiskSignal, Enterprise, dict | None, dict]] = field(
        default_factory=list
    )

    def merge(self, other: Changes) -> None:
        self.raised += other.raised
        self.escalated += other.escalated
        self.expired += other.expired
        self.refreshed += other.refreshed
        self.suppressed += other.suppressed
        self.pending += other.pending

    def as_dict(self) -> dict:
        def by_level(signals):
            counts: dict[str, int] = defaultdict(int)
            for s in signals:
                counts[s.level] += 1
            return dict(counts)

        return {
            "raised": len(self.raised),
            "raised_by_level": by_level(self.raised),
            "escalated": len(self.escalated),
            "expired": len(self.expired),
            "refreshed": self.refreshed,
            "suppressed": self.suppressed,
            "signal_ids": sorted({s.id for s in self.raised + self.escalated}),
        }


def dedup_key(enterprise_id: int, rule_id: str) -> str:
    return f"{enterprise_id}:{rule_id}"


def load_books(session: Session, enterprise_ids: Sequence[int]) -> dict[int, SignalBook]:
    books: dict[int, SignalBook] = defaultdict(SignalBook)
    if not enterprise_ids:
        return books
    for signal in session.scalars(
        select(RiskSignal)
        .where(
            RiskSignal.enterprise_id.in_(list(enterprise_ids)),
            RiskSignal.status.in_((*ACTIVE_STATUSES, "dismissed", "lifted")),
        )
        .order_by(RiskSignal.id)
    ):
        book = books[signal.enterprise_id]
        if signal.active_key is not None:
            book.active[signal.dedup_key] = signal
        else:
            book.closed[signal.dedup_key] = signal  # ascending ids: the last one wins
    return books


def _new_keys(finding: Finding, signal: RiskSignal) -> set[str]:
    return set(finding.keys) - set(signal.evidence_keys or [])


def _summary(signal: RiskSignal) -> dict:
    return {
        "level": signal.level,
        "status": signal.status,
        "rule_id": signal.rule_id,
        "occurrences": signal.occurrences,
    }


def reconcile(
    session: Session,
    enterprise: Enterprise,
    findings: Iterable[Finding],
    book: SignalBook,
    *,
    origins: Iterable[str],
    now: datetime,
    backfill: bool = False,
) -> Changes:
    """Apply one evaluation's findings of ``origins`` to the enterprise's signals.
    ``backfill``: a go-live backfill, whose raised signals are marked ``backfill``."""
    changes = Changes()
    origins = set(origins)
    seen: set[str] = set()
    for finding in findings:
        key = dedup_key(enterprise.id, finding.rule_id)
        seen.add(key)
        signal = book.active.get(key)
        if signal is not None:
            _update(enterprise, signal, finding, changes, now=now)
            continue
        closed = book.closed.get(key)
        if closed is not None and set(finding.keys) <= set(closed.evidence_keys or []):
            changes.suppressed += 1
            continue
        signal = _raise(session, enterprise, finding, now=now)
        signal.backfill = backfill
        book.active[key] = signal
        changes.raised.append(signal)
        changes.pending.append(("raised", signal, enterprise, None, _summary(signal)))
    for key, signal in list(book.active.items()):
        if (
            key not in seen
            and signal.origin in origins
            and signal.status == "open"
            and signal.level != "hard"
        ):
            before = _summary(signal)
            signal.status, signal.active_key, signal.closed_at = "expired", None, now
            changes.pending.append(("expired", signal, enterprise, before, _summary(signal)))
            del book.active[key]
            changes.expired.append(signal)
    levels = [s.level for s in book.active.values()]
    enterprise.risk_level = catalog.max_level(levels)
    return changes


def _raise(
    session: Session, enterprise: Enterprise, finding: Finding, *, now: datetime
) -> RiskSignal:
    key = dedup_key(enterprise.id, finding.rule_id)
    signal = RiskSignal(
        enterprise_id=enterprise.id,
        origin=finding.origin,
        rule_id=finding.rule_id,
        rule_version=finding.rule_version,
        level=finding.level,
        base_level=finding.level,
        status="open",
        reason=finding.reason,
        evidence={"title": finding.title, **finding.evidence},
        evidence_keys=sorted(finding.keys),
        score=finding.score,
        occurrences=1,
        dedup_key=key,
        active_key=key,
        raised_at=now,
        last_seen_at=now,
    )
    session.add(signal)
    return signal


def _update(
    enterprise: Enterprise,
    signal: RiskSignal,
    finding: Finding,
    changes: Changes,
    *,
    now: datetime,
) -> None:
    fresh = _new_keys(finding, signal)
    signal.last_seen_at = now
    if not fresh:
        changes.refreshed += 1
        return
    before = _summary(signal)
    signal.occurrences += 1
    signal.evidence_keys = sorted(set(signal.evidence_keys or []) | set(finding.keys))
    signal.evidence = {"title": finding.title, **finding.evidence}
    signal.reason, signal.score = finding.reason, finding.score
    signal.rule_version = finding.rule_version
    target = finding.level
    if finding.escalation is not None:
        target = catalog.max_level(
            [target, finding.escalation.level_for(signal.base_level, signal.occurrences)]
        )
    if catalog.level_rank(target) > catalog.level_rank(signal.level):
        signal.level, signal.escalated_at = target, now
        changes.pending.append(("escalated", signal, enterprise, before, _summary(signal)))
        changes.escalated.append(signal)
    else:
        changes.refreshed += 1


def finish(
    session: Session,
    changes: Changes,
    *,
    now: datetime,
    live: LiveEmitter | None,
    notify: bool = True,
) -> None:
    """One flush for the signals of a batch, then their audit records and routing (no inbox
    items or pushes with ``notify`` false: a go-live backfill is not news)."""
    if not changes.pending:
        return
    session.flush()
    for what, signal, enterprise, before, after in changes.pending:
        audit.record(
            session, SYSTEM, f"risk.signal_{what}", "risk_signal", signal.id, before, after
        )
        if notify and what in ("raised", "escalated"):
            route(session, signal, enterprise, what, live, now=now)
    changes.pending.clear()
