"""Risk early warning ("dragon shield", 龙盾): multi-source enterprise risk data, graded
signals from rules, a model and contagion, the warning workflow that blocks disbursement,
and the enterprise knowledge graph.  Documentation: docs/risk.md.

Interfaces other areas rely on (importable from ``backend.risk`` or ``backend.risk.service``)::

    has_blocking_signal(session, *, org_id=None, credit_code=None) -> bool
        True while the enterprise linked to the org (``Enterprise.org_id`` -> orgs.id, e.g. a
        floor-plan dealer) or with that credit code has a hard signal that is open, pending
        review or confirmed.  An org without risk data is not blocked.

    ensure_no_blocking_signal(session, org_id) -> None
        Raises BusinessRuleViolation(code="disbursement_blocked_by_risk") (HTTP 422) with
        details {"enterprise_id", "signals": [{"id", "rule_id", "status", "reason"}]}.
        Floor-plan finance calls it before every draw or disbursement; factoring will too.

    record_internal_event(session, actor, *, org_id=None | credit_code=None,
                          source="floorplan", kind, severity=None, data=None,
                          source_time=None, external_id=None, live=None) -> RiskEvent
        The bank's own events: kind one of vehicle_out_of_trust, vehicle_alert,
        margin_shortfall, overdue_loan (data {"days_overdue": int}), loan_default; severity
        one of info, low, medium, high, critical (default: the kind's); data fields as in
        backend/risk/catalog.py (money as decimal strings).  Idempotent by ``external_id``.
        Re-evaluates the enterprise in the same transaction: a vehicle out of trust raises a
        hard signal, so the next ensure_no_blocking_signal refuses.  Pass ``live`` (the app's
        LiveEmitter) so that the RM and approvers get the ``risk.signal`` push on commit.

Inside the package: ``models`` (tables), ``catalog`` (levels, event kinds), ``feeds`` /
``adapters`` / ``ingest`` / ``resolution`` (feeds in, idempotent, entity resolution),
``features``, ``tags``, ``ruleset`` + ``rules/*.yaml`` (versioned rules), ``assessment``,
``signals`` / ``routing`` / ``workflow`` (signals, inbox and pushes, maker-checker),
``graph`` (array algorithms) / ``graph_store`` (the graph in the database), ``ml`` /
``dataset`` / ``registry`` (the model and its registry), ``evaluate`` / ``scan`` (live
re-evaluation, full scan), ``synthetic`` / ``evaluation`` (generator with ground truth,
backtest report), ``neo4j_export``, ``seed``, ``jobs``, ``service`` / ``views`` (API use cases).
"""

from __future__ import annotations

_EXPORTS = {
    "has_blocking_signal",
    "ensure_no_blocking_signal",
    "blocking_signals",
    "record_internal_event",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        from backend.risk import blocking

        return getattr(blocking, name)
    raise AttributeError(f"module 'backend.risk' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
