"""The two things floor-plan needs from risk early warning (backend/risk), imported lazily so
that this package works before and without it.

- ``ensure_no_blocking_signal(session, org_id)``: called before every draw (bill issuance,
  release-before-repay); raises BusinessRuleViolation ``disbursement_blocked_by_risk`` while a
  hard signal is open for the enterprise linked to the dealer's org.
- ``record_internal_event(session, actor, ...)``: out-of-trust cars, margin shortfalls and
  overdue curtailments become risk events of the dealer, in the caller's transaction.

When ``backend.risk`` is not installed the checks pass and events are dropped (logged once);
any other import error is a bug and propagates. Floor-plan grades alerts in the bank's four
levels (hard, strong, medium, weak); risk events take risk's severities, mapped here.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.platform.context import Actor

log = logging.getLogger(__name__)
_warned = False
SEVERITY = {"hard": "critical", "strong": "high", "medium": "medium", "weak": "low"}


def _risk_function(name: str):
    global _warned
    try:
        module = importlib.import_module("backend.risk")
    except ModuleNotFoundError as exc:
        if exc.name not in ("backend.risk",):
            raise
        module = None
    func = getattr(module, name, None) if module is not None else None
    if func is None and not _warned:
        log.warning("backend.risk.%s is not available: floor-plan risk checks are off", name)
        _warned = True
    return func


def available() -> bool:
    """True when backend.risk provides both functions floor-plan calls."""
    return all(
        _risk_function(n) is not None
        for n in ("ensure_no_blocking_signal", "record_internal_event")
    )


def ensure_no_blocking_signal(session: Session, org_id: int) -> None:
    func = _risk_function("ensure_no_blocking_signal")
    if func is not None:
        func(session, org_id)


def record_internal_event(
    session: Session,
    actor: Actor,
    *,
    org_id: int,
    kind: str,
    severity: str,
    data: dict[str, Any],
    source_time: datetime,
    external_id: str | None = None,
    live: Any = None,
) -> None:
    """kind: vehicle_out_of_trust (data: vin) | margin_shortfall (amount) | overdue_loan
    (days_overdue, amount). ``external_id`` makes a repeat of the same fact a no-op."""
    func = _risk_function("record_internal_event")
    if func is None:
        return
    kwargs: dict[str, Any] = {
        "org_id": org_id,
        "source": "floorplan",
        "kind": kind,
        "severity": SEVERITY.get(severity, severity),
        "data": data,
        "source_time": source_time,
    }
    accepted = _parameters(func)
    for name, value in (("external_id", external_id), ("live", live)):
        if value is not None and (accepted is None or name in accepted):
            kwargs[name] = value
    func(session, actor, **kwargs)


def _parameters(func) -> set[str] | None:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}
