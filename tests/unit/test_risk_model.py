"""Features, tags, the synthetic generator and its ground truth, the warning model (training,
calibration, explanations, serialisation, champion/challenger); the out-of-time validation and
the evaluation on another world are in test_risk_oot.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from backend.risk import ml, synthetic
from backend.risk.creditcode import is_valid_credit_code, normalize_name
from backend.risk.graph.algorithms import strong_components
from backend.risk.ml.dataset import build_dataset, snapshot_dates, split_by_enterprise
from backend.risk.ml.registry import compare
from backend.risk.scoring.features import FEATURE_NAMES, compute_features
from backend.risk.scoring.history import EnterpriseHistory, EventView
from backend.risk.scoring.rulefile import load_ruleset
from backend.risk.scoring.tags import derive_tags

END = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world():
    return synthetic.generate(500, seed=3, end=END)


@pytest.fixture(scope="module")
def data(world):
    dates = snapshot_dates(world.start + timedelta(days=150), world.end, 30)
    ds = build_dataset(world.histories(), world.graph(), load_ruleset(), dates=dates)
    train, test = split_by_enterprise([e.credit_code for e in world.enterprises], ds.groups)
    return ds, train, test


@pytest.fixture(scope="module")
def models(data):
    ds, train, _test = data
    return {a: ml.train(ds.X[train], ds.y[train], a) for a in ml.ALGORITHMS}


# --- features and tags --------------------------------------------------------------------


def _ev(i, kind, days_ago, **data):
    return EventView(i, kind, "x", "test", 2, END - timedelta(days=days_ago), data)


def test_features_count_windows_and_never_look_ahead():
    h = EnterpriseHistory(
        1,
        "A",
        None,
        registered_capital=1e7,
        established_on=(END - timedelta(days=400)).date(),
        events=[
            _ev(1, "lawsuit_defendant", 10, amount="1000.00"),
            _ev(2, "lawsuit_defendant", 200),
            _ev(3, "lawsuit_defendant", 400),
            _ev(4, "lawsuit_defendant", -5),  # after as_of: invisible
            _ev(5, "news", 3, sentiment=-0.8),
            _ev(6, "news", 60, sentiment=0.4),
            _ev(
                7,
                "financial_report",
                30,
                total_assets="100",
                total_liabilities="85",
                current_assets="40",
                current_liabilities="50",
                revenue="120",
                net_profit="-5",
                operating_cash_flow="-10",
            ),
            _ev(
                8,
                "financial_report",
                400,
                total_assets="100",
                total_liabilities="50",
                revenue="100",
            ),
            _ev(9, "capital_change", 100, old="10000000.00", new="4000000.00"),
            _ev(10, "status_change", -3, status="revoked"),
        ],
    )
    f = compute_features(h, END, {"guarantee_amount_given": 8e6, "in_guarantee_circle": 1.0})
    assert (f["lawsuits_90d"], f["lawsuits_365d"]) == (1, 2)
    assert (
        f["news_30d"] == 1
        and f["negative_news_30d"] == 1
        and f["sentiment_mean_90d"] == pytest.approx(-0.2)
    )
    assert f["debt_ratio"] == pytest.approx(0.85) and f["current_ratio"] == pytest.approx(0.8)
    assert f["revenue_growth"] == pytest.approx(0.2) and f["roa"] == pytest.approx(-0.05)
    assert f["capital_reduced_365d"] == 1 and f["guarantee_exposure"] == pytest.approx(2.0)
    assert f["status_bad"] == 0  # the revocation comes later
    assert f["age_years"] == pytest.approx(400 / 365.25)
    assert set(f) == set(FEATURE_NAMES)
    later = compute_features(h, END + timedelta(days=10))
    assert later["lawsuits_90d"] == 2 and later["status_bad"] == 1


def test_tags_are_derived_with_reasons():
    h = EnterpriseHistory(
        1,
        "A",
        None,
        attributes={"flags": {"high_tech": True}},
        events=[_ev(1, "honor", 100, title="专精特新中小企业")],
    )
    features = compute_features(h, END)
    tags = {
        t.code: t
        for t in derive_tags(
            h,
            features,
            {
                "guarantees_given": 2,
                "guarantee_amount_given": 5e6,
                "in_guarantee_circle": 1,
                "guarantee_circle_size": 3,
                "group_member": 1,
                "trade_suppliers": 12,
            },
            END,
            linked_org_kind="dealer",
        )
    }
    assert {
        "operating_status",
        "srdi_sme",
        "high_tech",
        "guarantor",
        "guarantee_circle",
        "group_member",
        "core_enterprise",
        "floorplan_dealer",
    } <= set(tags)
    assert "专精特新" in tags["srdi_sme"].reason and tags["srdi_sme"].evidence["event_id"] == 1
    assert tags["guarantor"].reason.startswith("guarantees 2 enterprise(s)")
    assert all(t.reason for t in tags.values())


# --- the synthetic world -----------------------------------------------------------------------


def test_the_generator_is_deterministic_with_a_consistent_ground_truth(world):
    again = synthetic.generate(500, seed=3, end=END)
    assert again.records == world.records and again.defaults == world.defaults
    assert all(is_valid_credit_code(e.credit_code) for e in world.enterprises)
    assert len({e.credit_code for e in world.enterprises}) == 500
    defaulted = {h.key: h for h in world.histories() if h.default_date and h.default_date <= END}
    assert defaulted, "the world plants defaults"
    for h in world.histories():
        default_events = [e.time for e in h.events if e.kind == "loan_default"]
        truth = world.enterprises[h.key].default_date
        assert default_events == ([truth] if truth and truth <= END else [])
    # every news item carrying only a name resolves to its enterprise by normalised name
    names = {normalize_name(e.name) for e in world.enterprises}
    assert all(normalize_name(r["name"]) in names for r in world.records["news"])
    g = world.graph()
    assert strong_components(g.n, g.src[g.kind == 4], g.dst[g.kind == 4])[1], "planted circles"


def test_bench_graph_sizes():
    g = synthetic.bench_graph(1000, edges_per_node=3)
    assert g.n == 1000 and len(g.src) == 3000 and g.src.max() < 1000 and g.dst.max() < 1000


# --- the model ------------------------------------------------------------------------------------


def test_dataset_is_point_in_time_and_split_by_enterprise(data):
    ds, train, test = data
    assert ds.X.shape == (len(ds.y), len(FEATURE_NAMES))
    assert 0 < ds.y.mean() < 0.2
    assert not set(ds.groups[train]) & set(ds.groups[test])
    assert 0.15 < len(test) / len(ds.y) < 0.45


def test_models_are_calibrated_and_discriminate(data, models):
    ds, _train, test = data
    for algorithm, model in models.items():
        p = model.predict(ds.X[test])
        assert ((p >= 0) & (p <= 1)).all()
        m = ml.metrics(ds.y[test], p)
        assert m["auc"] > 0.8 and m["positives"] >= 15, (algorithm, m)
        # calibrated: the mean predicted probability is close to the observed rate
        assert abs(p.mean() - ds.y[test].mean()) < 0.03, (algorithm, p.mean(), ds.y[test].mean())
        assert model.params["calibration"] in ("sigmoid", "isotonic")


def test_explanations_name_the_features_that_drive_a_score(data, models):
    ds, _train, test = data
    model = models["logreg"]
    p = model.predict(ds.X[test])
    top = np.argsort(-p)[:3]
    for row, contributions in zip(top, model.explain(ds.X[test][top], top=5), strict=True):
        assert 0 < len(contributions) <= 5
        effects = [abs(c.effect) for c in contributions]
        assert effects == sorted(effects, reverse=True)
        for c in contributions:
            assert c.feature in FEATURE_NAMES
            assert c.value == ds.X[test][row][FEATURE_NAMES.index(c.feature)]
        assert contributions[0].effect > 0  # the strongest driver of a high score pushes it up


def test_levels_follow_the_thresholds(models):
    model = models["hgb"]
    assert model.level(0.01) is None
    assert [model.level(p) for p in (0.1, 0.3, 0.5, 0.9)] == ["weak", "medium", "strong", "hard"]


def test_artifacts_round_trip_and_are_checked(models):
    blob, sha = ml.dumps(models["logreg"])
    again = ml.loads(blob, sha)
    x = np.zeros((1, len(FEATURE_NAMES)))
    assert again.predict(x) == pytest.approx(models["logreg"].predict(x))
    with pytest.raises(ValueError, match="checksum"):
        ml.loads(blob + b"x", sha)


def test_champion_and_challenger_are_compared_on_the_same_rows(data, models):
    ds, _train, test = data
    result = compare(models["hgb"], models["logreg"], ds.X[test], ds.y[test])
    assert result["rows"] == len(test)
    assert result["champion"]["rows"] == result["challenger"]["rows"] == len(test)
    assert result["winner"] in ("champion", "challenger")
    assert result["auc_delta"] == pytest.approx(
        result["challenger"]["auc"] - result["champion"]["auc"], abs=1e-3
    )


def test_training_refuses_one_class():
    with pytest.raises(ValueError, match="both classes"):
        ml.train(np.zeros((10, len(FEATURE_NAMES))), np.zeros(10), "logreg")
