"""The rules engine: every rule of the current file fires on a minimal history made for it
(and nothing fires on a quiet one), rule files are validated, versions coexist, and the
escalation arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from backend.risk.scoring.assessment import assess
from backend.risk.scoring.history import EnterpriseHistory, EventView
from backend.risk.scoring.rulefile import RuleFileError, load_ruleset, parse_ruleset, rule_files
from backend.risk.scoring.rules import RULES_DIR
from backend.risk.scoring.ruleset import Escalation

NOW = datetime(2025, 6, 1, tzinfo=UTC)
_ids = itertools.count(1)
CATEGORY = {
    "dishonest_debtor": "judicial",
    "consumption_restriction": "judicial",
    "enforcement": "judicial",
    "lawsuit_defendant": "judicial",
    "administrative_penalty": "penalty",
    "tax_violation": "tax",
    "tax_arrears": "tax",
    "equity_pledge": "equity",
    "equity_freeze": "equity",
    "news": "sentiment",
    "rating_change": "rating",
    "financial_report": "financials",
}


def ev(kind: str, days_ago: float = 5, severity: int = 2, **data) -> EventView:
    category = CATEGORY.get(
        kind,
        "internal"
        if kind
        in (
            "overdue_loan",
            "margin_shortfall",
            "vehicle_out_of_trust",
            "vehicle_alert",
            "loan_default",
            "pool_shortfall",
            "payable_overdue",
            "clearing_difference",
            "ltv_breach",
        )
        else "registry",
    )
    return EventView(
        next(_ids), kind, category, "test", severity, NOW - timedelta(days=days_ago), data, None
    )


def history(*events: EventView, **kw) -> EnterpriseHistory:
    return EnterpriseHistory(
        key=1,
        name="华鑫科技有限公司",
        credit_code=None,
        registered_capital=10_000_000.0,
        established_on=(NOW - timedelta(days=3000)).date(),
        events=list(events),
        **kw,
    )


def report(assets, liabilities, current_assets, current_liabilities, days_ago=60) -> EventView:
    return ev(
        "financial_report",
        days_ago,
        period="2024",
        total_assets=str(assets),
        total_liabilities=str(liabilities),
        current_assets=str(current_assets),
        current_liabilities=str(current_liabilities),
        revenue="1000000.00",
        net_profit="10000.00",
        operating_cash_flow="10000.00",
    )


CASES: dict[str, tuple[list[EventView], dict]] = {
    "JUD-DISHONEST": ([ev("dishonest_debtor", 10)], {}),
    "INT-OUT-OF-TRUST": ([ev("vehicle_out_of_trust", 5, vin="LSV1")], {}),
    "INT-OVERDUE-90": ([ev("overdue_loan", 3, days_overdue=95)], {}),
    "INT-DEFAULT": ([ev("loan_default", 10)], {}),
    "INT-REPORTED-CRITICAL": ([ev("margin_shortfall", 2, severity=4)], {}),
    "REG-DEREGISTERED": ([ev("status_change", 30, status="revoked")], {}),
    "INT-OVERDUE-30": ([ev("overdue_loan", 3, days_overdue=45)], {}),
    "INT-MARGIN-SHORTFALL": ([ev("margin_shortfall", 40), ev("margin_shortfall", 10)], {}),
    "JUD-CONSUMPTION-RESTRICTED": ([ev("consumption_restriction", 30)], {}),
    "TAX-MAJOR": ([ev("tax_violation", 20, major=True)], {}),
    "JUD-ENFORCEMENT-TAX": ([ev("enforcement", 30), ev("tax_arrears", 100)], {}),
    "JUD-ENFORCEMENTS": ([ev("enforcement", 30), ev("enforcement", 200)], {}),
    "JUD-LAWSUITS-ACCEL": ([ev("lawsuit_defendant", d) for d in (5, 20, 40, 80)], {}),
    "TAX-ARREARS-LAWSUITS": (
        [ev("tax_arrears", 30), ev("lawsuit_defendant", 50), ev("lawsuit_defendant", 150)],
        {},
    ),
    "REG-ABNORMAL-PERSISTENT": ([ev("abnormal_operation", 130)], {}),
    "FIN-DISTRESS": ([report(100, 90, 50, 70), ev("lawsuit_defendant", 30)], {}),
    "MULTI-DISTRESS": (
        [ev("lawsuit_defendant", 30), ev("tax_arrears", 60), ev("equity_freeze", 90, share=0.2)],
        {},
    ),
    "RATING-JUNK-DOWNGRADE": ([ev("rating_change", 20, rating="B", previous="BB")], {}),
    "JUD-ENFORCEMENT": ([ev("enforcement", 30)], {}),
    "REG-ABNORMAL": ([ev("abnormal_operation", 20)], {}),
    "EQ-FREEZE": ([ev("equity_freeze", 20, share=0.3)], {}),
    "RATING-JUNK": ([ev("rating_change", 20, rating="B")], {}),
    "INT-MARGIN-SHORTFALL-ONE": ([ev("margin_shortfall", 10)], {}),
    "INT-PAYABLE-OVERDUE-90": ([ev("payable_overdue", 3, days_overdue=95)], {}),
    "INT-PAYABLE-OVERDUE-30": ([ev("payable_overdue", 3, days_overdue=40)], {}),
    "INT-PAYABLE-OVERDUE": ([ev("payable_overdue", 3, days_overdue=5)], {}),
    "INT-POOL-SHORTFALLS": ([ev("pool_shortfall", 30), ev("pool_shortfall", 5)], {}),
    "INT-POOL-SHORTFALL-ONE": ([ev("pool_shortfall", 5)], {}),
    "INT-CLEARING-DIFFERENCE": ([ev("clearing_difference", 2)], {}),
    "INT-LTV-BREACH": ([ev("ltv_breach", 4, ltv_bp=8600)], {}),
    "FIN-STRESS": ([report(100, 90, 50, 70)], {}),
    "MULTI-DISTRESS-TWO": ([ev("lawsuit_defendant", 30), ev("tax_arrears", 60)], {}),
    "INT-OVERDUE": ([ev("overdue_loan", 3, days_overdue=10)], {}),
    "JUD-LAWSUITS": ([ev("lawsuit_defendant", d) for d in (5, 40, 100)], {}),
    "JUD-LAWSUIT-LARGE": ([ev("lawsuit_defendant", 100, amount="6000000.00")], {}),
    "TAX-VIOLATION": ([ev("tax_arrears", 100, amount="50000.00")], {}),
    "PEN-LARGE": ([ev("administrative_penalty", d, amount="600000.00") for d in (200, 300)], {}),
    "REG-EXEC-CHURN": ([ev("executive_change", d) for d in (10, 100, 200)], {}),
    "REG-CAPITAL-CUT": ([ev("capital_change", 100, old="10000000.00", new="5000000.00")], {}),
    "EQ-PLEDGES": ([ev("equity_pledge", d) for d in (10, 100, 200)], {}),
    "NEWS-NEGATIVE": ([ev("news", 3, sentiment=-0.7), ev("news", 10, sentiment=-0.6)], {}),
    "RATING-DOWNGRADE": ([ev("rating_change", 30, rating="BBB", previous="A")], {}),
    "FIN-LEVERAGE": ([report(100, 82, 90, 60)], {}),
    "NEWS-ALERT": ([ev("news", 3, sentiment=-0.9)], {}),
    "PEN-ANY": ([ev("administrative_penalty", 100, amount="5000.00")], {}),
    "JUD-LAWSUIT": ([ev("lawsuit_defendant", 30)], {}),
    "INT-VEHICLE-ALERT": ([ev("vehicle_alert", 30, vin="LSV1")], {}),
    "GRAPH-CIRCLE": ([], {"in_guarantee_circle": 1.0, "guarantee_circle_size": 4.0}),
}


def findings(events, graph=None, ruleset=None):
    ruleset = ruleset or load_ruleset()
    return assess(history(*events), NOW, graph or {}, ruleset).findings


def test_every_rule_of_the_current_file_has_a_case():
    assert {r.id for r in load_ruleset().rules} == set(CASES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_each_rule_fires_on_its_case_with_a_readable_reason(rule_id):
    events, graph = CASES[rule_id]
    found = {f.rule_id: f for f in findings(events, graph)}
    assert rule_id in found, sorted(found)
    finding = found[rule_id]
    rule = next(r for r in load_ruleset().rules if r.id == rule_id)
    assert finding.level == rule.level and finding.origin == "rule"
    assert finding.reason and "{" not in finding.reason, finding.reason
    assert finding.keys and finding.rule_version == "3"
    if events:
        assert finding.evidence["events"] or finding.evidence["features"]


def test_a_quiet_enterprise_raises_nothing():
    quiet = [ev("news", 3, sentiment=0.4), report(100, 40, 80, 40), ev("executive_change", 100)]
    assert findings(quiet) == []


def test_old_events_fall_out_of_their_window():
    assert "JUD-LAWSUIT" not in {f.rule_id for f in findings([ev("lawsuit_defendant", 120)])}
    assert "JUD-LAWSUITS" not in {
        f.rule_id for f in findings([ev("lawsuit_defendant", d) for d in (5, 40, 200)])
    }


def test_point_in_time_no_event_after_as_of_counts():
    h = history(ev("dishonest_debtor", -10))  # ten days in the future of NOW
    assert assess(h, NOW, {}, load_ruleset()).findings == []


def test_abnormal_listing_cleared_by_removal_and_relisting():
    rules = lambda evs: {f.rule_id for f in findings(evs)}  # noqa: E731
    listed, removed = ev("abnormal_operation", 60), ev("abnormal_operation_removed", 30)
    assert "REG-ABNORMAL" not in rules([listed, removed])
    assert "REG-ABNORMAL" in rules([listed, removed, ev("abnormal_operation", 10)])


def test_evidence_keys_grow_with_new_events():
    one = {f.rule_id: f for f in findings([ev("lawsuit_defendant", d) for d in (5, 40, 100)])}
    more = {f.rule_id: f for f in findings([ev("lawsuit_defendant", d) for d in (5, 40, 100, 2)])}
    assert len(more["JUD-LAWSUITS"].keys) == len(one["JUD-LAWSUITS"].keys) + 1


def test_escalation_arithmetic():
    assert Escalation(3, None, "strong").level_for("weak", 2) == "weak"
    assert Escalation(3, None, "strong").level_for("weak", 3) == "medium"
    assert Escalation(3, None, "strong").level_for("strong", 9) == "strong"
    assert Escalation(3, "hard", "strong").level_for("strong", 3) == "hard"
    assert Escalation(2, "weak", "strong").level_for("medium", 5) == "medium"  # never down


def test_rule_files_are_versioned_and_all_valid():
    files = rule_files()
    assert set(files) >= {"1", "2", "3"}
    assert load_ruleset().version == max(files, key=int)
    old = load_ruleset("1")
    assert old.version == "1" and {r.id for r in old.rules} < set(CASES) | {"INT-OVERDUE-30"}
    # an old version still explains: v1 treats 30 days overdue as hard
    found = {f.rule_id: f for f in findings([ev("overdue_loan", 3, days_overdue=45)], ruleset=old)}
    assert found["INT-OVERDUE-30"].level == "hard" and found["INT-OVERDUE-30"].rule_version == "1"
    with pytest.raises(RuleFileError):
        load_ruleset("99")


def _doc(**rule_over) -> dict:
    doc = yaml.safe_load((Path(RULES_DIR) / "dragon_shield_v3.yaml").read_text(encoding="utf-8"))
    rule = {
        "id": "X-TEST",
        "title": "t",
        "level": "weak",
        "when": {"event": {"kind": "news"}},
        "reason": "r",
    }
    rule.update(rule_over)
    doc["rules"] = [rule]
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"level": "severe"}, "level"),
        ({"when": {"event": {"kind": "gossip"}}}, "unknown event kind"),
        ({"when": {"feature": "happiness > 1"}}, "unknown feature"),
        ({"when": {"feature": "debt_ratio >>> 1"}}, "name <op> number"),
        ({"when": {"tag": "lucky"}}, "unknown tag"),
        ({"when": {"event": {"kind": "news", "within": 3}}}, "unknown key"),
        ({"when": {"sometimes": []}}, "unknown condition"),
        ({"when": {"all": []}}, "non-empty list"),
        ({"reason": "{no_such_thing}"}, "unknown placeholder"),
        ({"id": "lower-case"}, "id must be"),
        ({"escalate": {"after": 1}}, "after"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_invalid_rule_files_are_refused_with_the_rule_and_the_reason(change, message):
    with pytest.raises(RuleFileError, match=message):
        parse_ruleset(_doc(**change), "test.yaml")


def test_duplicate_ids_and_versions_are_refused(tmp_path):
    doc = _doc()
    doc["rules"] = doc["rules"] * 2
    with pytest.raises(RuleFileError, match="duplicate"):
        parse_ruleset(doc)
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump(_doc()), encoding="utf-8")
    with pytest.raises(RuleFileError, match="also in"):
        rule_files(tmp_path)
