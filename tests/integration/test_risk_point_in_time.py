"""Train/live skew on a database: features of past snapshots built the training way (the
whole database, loaded to the end, read through the point-in-time view) equal the features the
live path computed on the day from a database loaded day by day, where late-published records
arrived only on their delivery day.  On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from backend.platform.context import SYSTEM
from backend.risk.intake.ingest import ingest_records
from backend.risk.ml.dataset import event_time_view
from backend.risk.models import Enterprise
from backend.risk.scoring.features import FEATURE_NAMES, compute_features, vector
from backend.risk.scoring.history import load_histories
from tests.integration.test_risk_support import code
from tests.wiring import wired_factory

START = datetime(2026, 1, 5, tzinfo=UTC)
FIRMS = [code(61 + i) for i in range(3)]
# (firm, kind, happened on day, delivered on day, data): the court and the tax bureau publish
# weeks late; the bank's own events arrive at once
EVENTS = [
    (0, "lawsuit_defendant", 3, 40, {"amount": "300000.00"}),
    (0, "lawsuit_defendant", 20, 21, {}),
    (0, "tax_arrears", 10, 55, {"amount": "80000.00"}),
    (1, "enforcement", 15, 70, {}),
    (1, "overdue_loan", 30, 30, {"days_overdue": 12}),
    (1, "news", 32, 32, {"sentiment": -0.8}),
    (2, "abnormal_operation", 5, 12, {}),
    (2, "abnormal_operation_removed", 25, 60, {}),
    (2, "equity_freeze", 50, 75, {"share": 0.2}),
]
SNAPSHOTS = (14, 35, 50, 65, 80)


def _record(i: int, firm: int, kind: str, day: int, data: dict) -> dict:
    return {
        "record_id": f"pit-{i}",
        "credit_code": FIRMS[firm],
        "name": f"时点企业{firm}有限公司",
        "kind": kind,
        "time": (START + timedelta(days=day, hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


def _features(session, as_of: datetime) -> dict[str, list[float]]:
    ids = list(session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
    histories = load_histories(session, ids)
    return {histories[i].credit_code: vector(compute_features(histories[i], as_of)) for i in ids}


def test_training_features_equal_those_seen_live_day_by_day(engine):
    factory = wired_factory(engine)
    live: dict[int, dict[str, list[float]]] = {}
    with factory() as session:
        profiles = [
            {
                "record_id": f"pit-p{f}",
                "type": "profile",
                "credit_code": c,
                "name": f"时点企业{f}有限公司",
                "time": START.strftime("%Y-%m-%d"),
                "data": {"registered_capital": "10000000.00", "established_on": "2015-01-01"},
            }
            for f, c in enumerate(FIRMS)
        ]
        ingest_records(session, SYSTEM, "registry", profiles, now=START, evaluate=False)
        for day in range(0, max(SNAPSHOTS) + 1):
            clock = START + timedelta(days=day, hours=20)  # the day's delivery is loaded
            batch = [
                _record(i, firm, kind, happened, data)
                for i, (firm, kind, happened, delivered, data) in enumerate(EVENTS)
                if delivered == day
            ]
            if batch:
                ingest_records(session, SYSTEM, "feed", batch, now=clock, evaluate=False)
                session.commit()
            if day in SNAPSHOTS:
                live[day] = _features(session, clock + timedelta(hours=1))
        # training: the whole database, loaded to the end, seen as of each snapshot
        ids = list(session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
        histories = load_histories(session, ids)
        differing_by_event_date = 0
        for day, seen in live.items():
            as_of = START + timedelta(days=day, hours=21)
            trained = _features(session, as_of)
            assert trained.keys() == seen.keys()
            for credit_code, row in trained.items():
                assert np.allclose(row, seen[credit_code]), (day, credit_code)
            by_event = {
                h.credit_code: vector(compute_features(h, as_of))
                for h in event_time_view(list(histories.values()))
            }
            differing_by_event_date += sum(not np.allclose(by_event[c], seen[c]) for c in seen)
        # the old way (by event date) would have differed from what live scoring saw
        assert differing_by_event_date >= 4
    index = FEATURE_NAMES.index("lawsuits_365d")
    firm0 = FIRMS[0]
    assert live[35][firm0][index] == 1 and live[50][firm0][index] == 2  # published on day 40
