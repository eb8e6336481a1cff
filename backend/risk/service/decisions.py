"""The warning workflow's decisions: confirm, dismiss or lift a signal, with a comment.

For a hard signal (the kind that blocks disbursement) every decision is maker-checker: the
maker (the enterprise's RM, or an approver) proposes it with a comment -> ``pending_review``;
a checker (an approver or admin, never the maker: four eyes) approves it, which applies it,
or rejects it, which returns the signal to where it was.  For other levels the decision of
the RM or an approver applies at once.

    open --confirm--> confirmed --lift--> lifted        (confirmed: the risk is real; a hard
    open --dismiss--> dismissed                          one keeps blocking until lifted)

Blocking: a hard signal blocks while open, pending review or confirmed (``blocking.py``);
dismissed and lifted ones do not.  Every step writes a review row and an audit record and is
routed to the people concerned (backend/risk/signals/routing.py).  ``decide`` and ``check``
return the signal; ``decide_signal`` and ``check_signal`` answer the HTTP API with its detail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import Conflict, PermissionDenied, ValidationFailed
from backend.platform.live import LiveEmitter
from backend.platform.permissions import ensure_role
from backend.risk.access import CHECKERS, MAKERS, visible_signal
from backend.risk.models import CLOSED_STATUSES, RiskSignal, SignalReview
from backend.risk.queries.signals import get_signal
from backend.risk.signals.routing import route

DECISIONS = ("confirm", "dismiss", "lift")
MAX_COMMENT = 2000
_RESULT = {"confirm": "confirmed", "dismiss": "dismissed", "lift": "lifted"}


def _comment(comment: str | None) -> str:
    text = (comment or "").strip()
    if not text:
        raise ValidationFailed(
            "a comment is required", code="comment_required", details={"comment": ["required"]}
        )
    if len(text) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment is longer than {MAX_COMMENT} characters",
            details={"comment": [f"at most {MAX_COMMENT} characters"]},
        )
    return text


def _state(signal: RiskSignal) -> dict:
    return {
        "status": signal.status,
        "level": signal.level,
        "pending_decision": signal.pending_decision,
        "proposed_by_user_id": signal.proposed_by_user_id,
    }


def _check_decision(signal: RiskSignal, decision: str) -> None:
    if decision not in DECISIONS:
        raise ValidationFailed(
            f"decision must be one of {', '.join(DECISIONS)}",
            details={"decision": [f"one of {DECISIONS}"]},
        )
    if signal.status in CLOSED_STATUSES:
        raise Conflict(f"the signal is already {signal.status}", code="signal_closed")
    if signal.status == "pending_review":
        raise Conflict(
            "a decision on this signal is waiting for a checker", code="decision_pending"
        )
    if decision == "lift" and signal.status != "confirmed":
        raise Conflict("only a confirmed signal can be lifted", code="signal_not_confirmed")
    if decision in ("confirm", "dismiss") and signal.status != "open":
        raise Conflict(f"the signal is {signal.status}, not open", code="signal_not_open")


def _apply(signal: RiskSignal, decision: str, actor: Actor, comment: str, now: datetime) -> None:
    signal.status = _RESULT[decision]
    signal.decided_by_user_id, signal.decision_comment = actor.user_id, comment
    signal.pending_decision = None
    if signal.status in CLOSED_STATUSES:
        signal.active_key, signal.closed_at = None, now


def _review(session, signal, step, decision, actor, comment, now) -> None:
    session.add(
        SignalReview(
            signal_id=signal.id,
            step=step,
            decision=decision,
            comment=comment,
            user_id=actor.user_id,
            username=actor.username,
            at=now,
        )
    )


def decide(
    session: Session,
    actor: Actor,
    signal_id: int,
    decision: str,
    comment: str | None,
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
) -> RiskSignal:
    """The maker's step: applies at once below hard, proposes for a hard signal."""
    now = now or utcnow()
    signal, enterprise = visible_signal(session, actor, signal_id)
    ensure_role(actor, *MAKERS)
    text = _comment(comment)
    _check_decision(signal, decision)
    before = _state(signal)
    if signal.level == "hard":
        signal.status, signal.pending_decision = "pending_review", decision
        signal.proposed_by_user_id, signal.proposed_comment, signal.proposed_at = (
            actor.user_id,
            text,
            now,
        )
        _review(session, signal, "propose", decision, actor, text, now)
        action, what = "risk.signal_decision_proposed", "review_requested"
    else:
        _apply(signal, decision, actor, text, now)
        _review(session, signal, "decide", decision, actor, text, now)
        action, what = f"risk.signal_{_RESULT[decision]}", "decided"
    audit.record(
        session, actor, action, "risk_signal", signal.id, before, _state(signal) | {"comment": text}
    )
    session.flush()
    route(session, signal, enterprise, what, live, now=now, approvers=what == "review_requested")
    return signal


def check(
    session: Session,
    actor: Actor,
    signal_id: int,
    approve: bool,
    comment: str | None,
    *,
    now: datetime | None = None,
    live: LiveEmitter | None = None,
) -> RiskSignal:
    """The checker's step on a pending decision: approve (apply it) or reject it."""
    now = now or utcnow()
    signal, enterprise = visible_signal(session, actor, signal_id)
    ensure_role(actor, *CHECKERS)
    text = _comment(comment)
    if signal.status != "pending_review" or not signal.pending_decision:
        raise Conflict(
            "nothing is waiting for a checker on this signal", code="no_pending_decision"
        )
    if signal.proposed_by_user_id is not None and signal.proposed_by_user_id == actor.user_id:
        raise PermissionDenied(
            "the maker of a decision cannot also check it", code="four_eyes_required"
        )
    before = _state(signal)
    decision = signal.pending_decision
    maker = signal.proposed_by_user_id
    if approve:
        _apply(signal, decision, actor, text, now)
        _review(session, signal, "approve", decision, actor, text, now)
        action = f"risk.signal_{_RESULT[decision]}"
    else:
        signal.status = "confirmed" if decision == "lift" else "open"
        signal.pending_decision = None
        _review(session, signal, "reject", decision, actor, text, now)
        action = "risk.signal_decision_rejected"
    audit.record(
        session, actor, action, "risk_signal", signal.id, before, _state(signal) | {"comment": text}
    )
    session.flush()
    route(
        session,
        signal,
        enterprise,
        "decided",
        live,
        now=now,
        extra_users=(maker,) if maker else (),
        approvers=False,
    )
    return signal


def decide_signal(
    session: Session,
    actor: Actor,
    signal_id: int,
    decision: str,
    comment: str | None,
    *,
    live: LiveEmitter | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Maker step: confirm / dismiss / lift (a proposal for hard signals)."""
    signal = decide(session, actor, signal_id, decision, comment, now=now, live=live)
    return get_signal(session, actor, signal.id)


def check_signal(
    session: Session,
    actor: Actor,
    signal_id: int,
    approve: bool,
    comment: str | None,
    *,
    live: LiveEmitter | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Checker step: approve or reject the pending decision on a hard signal."""
    signal = check(session, actor, signal_id, approve, comment, now=now, live=live)
    return get_signal(session, actor, signal.id)
