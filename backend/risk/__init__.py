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

Inside the package (docs/risk.md has the module map)::

    models, catalog, creditcode, access     tables, vocabulary, entity keys, who sees what
    intake/       feed records, adapters, entity resolution, idempotent ingestion
    scoring/      point-in-time history, features, tags, rule files and rules, assessment
    graph/        graph algorithms on arrays, the graph in the database, Neo4j export
    ml/           training data, classifiers, the model registry, the backtest report
    signals/      findings -> signals (dedup, escalation, expiry), inbox and live pushes
    monitoring/   the live re-evaluation of touched enterprises and the nightly full scan
    replay/       replay of dated deliveries with a simulated clock, go-live backfill, backtests
    synthetic/    a synthetic world with ground truth (demo, tests, benchmarks)
    service/      the write side (use cases); queries/: the read side
    jobs, seed    scheduled jobs; the demo seeder
"""

from __future__ import annotations

_EXPORTS = {
    "has_blocking_signal",
    "ensure_no_blocking_signal",
    "blocking_signals",
    "record_internal_event",
}


def __getattr__(name: str):
    # Resolved on first use, so that importing the package (e.g. for its tables, as
    # backend/models.py and Alembic do) loads none of the engine: numpy, scipy, the rules.
    if name in _EXPORTS:
        from backend.risk import service

        return getattr(service, name)
    raise AttributeError(f"module 'backend.risk' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
