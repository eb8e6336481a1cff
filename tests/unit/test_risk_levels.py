"""Levels with meaning (rules v3): every level has a written target and an alert budget in
the rule file (validated), no single routine event makes strong alone while corroborated
patterns do, and the quiet-distress features behind them."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta

import pytest

from backend.risk import catalog
from backend.risk.scoring.features import compute_features
from backend.risk.scoring.rulefile import RuleFileError, load_ruleset, parse_ruleset
from tests.unit.test_risk_rules import NOW, _doc, ev, findings, history, report

STRONG = catalog.level_rank("strong")


def top_level(events) -> str | None:
    return catalog.max_level(f.level for f in findings(events))


def test_every_level_of_v3_has_a_target_and_a_budget():
    ruleset = load_ruleset()
    assert ruleset.version == "3"
    assert set(ruleset.targets) == set(catalog.LEVELS)
    assert ruleset.targets["strong"]["precision_12m"] >= 0.3
    assert ruleset.targets["hard"]["precision_12m"] >= 0.6
    assert ruleset.targets["strong"]["max_false_alarm_rate"] <= 0.10  # the aim
    for target in ruleset.targets.values():
        assert target["max_alerts_per_week_per_1000"] > 0
    assert load_ruleset("2").targets == {}  # older files have none; still valid


TARGETS = {
    "hard": {"precision_12m": 0.6, "max_alerts_per_week_per_1000": 1},
    "strong": {"precision_12m": 0.3, "max_alerts_per_week_per_1000": 3},
    "medium": {"precision_12m": 0.1, "max_alerts_per_week_per_1000": 8},
    "weak": {"precision_12m": 0.05, "max_alerts_per_week_per_1000": 20},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("weak"), "missing key"),
        (lambda t: t["strong"].pop("max_alerts_per_week_per_1000"), "missing key"),
        (lambda t: t.update(severe={}), "unknown key"),
        (lambda t: t["strong"].update(recall=0.5), "unknown key"),
        (lambda t: t["strong"].update(precision_12m=1.5), r"in \(0, 1\]"),
        (lambda t: t["strong"].update(precision_12m="high"), "must be a number"),
        (lambda t: t["weak"].update(max_alerts_per_week_per_1000=0), "positive"),
        (lambda t: t["hard"].update(precision_12m=0.2), "less precision"),
        (lambda t: t["strong"].update(max_alerts_per_week_per_1000=50), "more alerts"),
        (lambda t: t["strong"].update(max_false_alarm_rate=0), r"in \(0, 1\]"),
        (lambda t: t["strong"].update(max_false_alarm_rate="few"), "must be a number"),
    ],
)
def test_invalid_targets_are_refused(change, message):
    doc = _doc()
    doc["targets"] = copy.deepcopy(TARGETS)
    assert parse_ruleset(copy.deepcopy(doc)).targets["strong"]["precision_12m"] == 0.3
    change(doc["targets"])
    with pytest.raises(RuleFileError, match=message):
        parse_ruleset(doc, "test.yaml")


# --- no single routine event makes strong ------------------------------------------------------

ROUTINE = {
    "one enforcement case": [ev("enforcement", 30, amount="800000.00")],
    "a late annual report (abnormal listing, removed)": [
        ev("abnormal_operation", 60),
        ev("abnormal_operation_removed", 20),
    ],
    "a fresh abnormal listing": [ev("abnormal_operation", 30)],
    "three negative news items": [ev("news", d, sentiment=-0.8) for d in (2, 9, 20)],
    "six negative news items": [ev("news", d, sentiment=-0.9) for d in (1, 3, 5, 9, 14, 20)],
    "one margin shortfall": [ev("margin_shortfall", 10, amount="300000.00")],
    "repeated statements of high leverage": [
        report(100, 90, 50, 70, days_ago=30),
        report(100, 92, 50, 72, days_ago=400),
    ],
    "one equity freeze": [ev("equity_freeze", 20, share=0.3)],
    "a junk rating": [ev("rating_change", 200, rating="B")],
    "tax arrears": [ev("tax_arrears", 30, amount="90000.00")],
    "one large lawsuit": [ev("lawsuit_defendant", 20, amount="9000000.00")],
    "lawsuits at a steady pace": [ev("lawsuit_defendant", d) for d in (10, 100, 190, 280, 350)],
}


@pytest.mark.parametrize("case", sorted(ROUTINE))
def test_a_routine_event_alone_is_not_strong(case):
    level = top_level(ROUTINE[case])
    assert catalog.level_rank(level) < STRONG, (case, [f.rule_id for f in findings(ROUTINE[case])])
    assert level in (None, "weak", "medium"), case


CORROBORATED = {
    "enforcement and tax arrears": (
        [ev("enforcement", 30), ev("tax_arrears", 90)],
        "JUD-ENFORCEMENT-TAX",
    ),
    "two enforcement cases": ([ev("enforcement", 30), ev("enforcement", 150)], "JUD-ENFORCEMENTS"),
    "lawsuits accelerating": (
        [ev("lawsuit_defendant", d) for d in (3, 25, 50, 70)],
        "JUD-LAWSUITS-ACCEL",
    ),
    "abnormal listing not removed in 120 days": (
        [ev("abnormal_operation", 150)],
        "REG-ABNORMAL-PERSISTENT",
    ),
    "leverage, illiquidity and a lawsuit": (
        [report(100, 90, 50, 70), ev("lawsuit_defendant", 40)],
        "FIN-DISTRESS",
    ),
    "distress in three categories": (
        [
            ev("lawsuit_defendant", 40),
            ev("tax_arrears", 70),
            ev("news", 5, sentiment=-0.7),
            ev("news", 12, sentiment=-0.8),
        ],
        "MULTI-DISTRESS",
    ),
    "quiet distress: tax arrears and lawsuits": (
        [ev("tax_arrears", 60), ev("lawsuit_defendant", 30), ev("lawsuit_defendant", 120)],
        "TAX-ARREARS-LAWSUITS",
    ),
    "two margin shortfalls in 90 days": (
        [ev("margin_shortfall", 40), ev("margin_shortfall", 12)],
        "INT-MARGIN-SHORTFALL",
    ),
    "a downgrade to junk": (
        [ev("rating_change", 30, rating="B", previous="BB+")],
        "RATING-JUNK-DOWNGRADE",
    ),
}


@pytest.mark.parametrize("case", sorted(CORROBORATED))
def test_corroborated_patterns_are_strong(case):
    events, rule_id = CORROBORATED[case]
    found = {f.rule_id: f for f in findings(events)}
    assert rule_id in found, (case, sorted(found))
    assert found[rule_id].level == "strong"


def test_hard_stays_for_what_is_really_hard():
    for events in (
        [ev("dishonest_debtor", 10)],
        [ev("loan_default", 5)],
        [ev("overdue_loan", 3, days_overdue=95)],
        [ev("status_change", 30, status="revoked")],
    ):
        assert top_level(events) == "hard"


def test_repetition_alone_never_makes_strong_but_margin_shortfalls_escalate_to_hard():
    ruleset = load_ruleset()
    rules = {r.id: r for r in ruleset.rules}
    for rule in ruleset.rules:
        if rule.escalation is not None and rule.id != "INT-MARGIN-SHORTFALL":
            reached = rule.escalation.level_for(rule.level, 99)
            assert catalog.level_rank(reached) <= max(
                catalog.level_rank("medium"), catalog.level_rank(rule.level)
            ), rule.id
    margin = rules["INT-MARGIN-SHORTFALL"].escalation
    assert margin.level_for("strong", 1) == "strong" and margin.level_for("strong", 2) == "hard"
    # a single shortfall's medium signal gives way to the strong one when a second comes
    assert "INT-MARGIN-SHORTFALL-ONE" not in {
        f.rule_id for f in findings([ev("margin_shortfall", 40), ev("margin_shortfall", 12)])
    }


# --- quiet distress features -------------------------------------------------------------------


def test_quiet_distress_features():
    events = [
        ev("lawsuit_defendant", 10),
        ev("lawsuit_defendant", 30),
        ev("lawsuit_defendant", 60),
        ev("lawsuit_defendant", 200),
        ev("tax_arrears", 40),
        ev("tax_arrears", 300),
        ev("abnormal_operation", 150),
    ]
    # published late: the court learned of the first lawsuit 45 days after it was filed
    events[3] = replace(events[3], known_at=events[3].time + timedelta(days=45))
    events[4] = replace(events[4], known_at=events[4].time + timedelta(days=5))
    f = compute_features(history(*events), NOW)
    assert f["lawsuits_90d"] == 3
    assert f["lawsuit_velocity"] == pytest.approx(3 - 90 / 275)
    assert (f["tax_arrears_180d"], f["tax_arrears_365d"]) == (1, 2)
    assert f["abnormal_listed_days"] == 150
    assert f["late_published_180d"] == 0  # the late one is older than 180 days
    assert f["publication_lag_mean_180d"] == pytest.approx(1.0)  # 5 days over 5 events
    assert f["distress_categories_180d"] == 3  # judicial, tax, registry


def test_an_event_published_after_the_as_of_time_is_invisible():
    lawsuit = ev("enforcement", 30)
    late = replace(lawsuit, known_at=NOW + timedelta(days=3))
    assert compute_features(history(late), NOW)["enforcements_365d"] == 0
    assert findings([late]) == []
    assert compute_features(history(late), NOW + timedelta(days=3))["enforcements_365d"] == 1
