"""The backtest report on a hand-made world whose answers are worked out by hand: two
defaulters (A warned strong 90 days ahead then hard 30 days ahead; B only medium, 30 days
ahead), a never-defaulting firm C with a strong contagion signal (a false alarm that the
rule-only baseline does not have) and a quiet firm D."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.risk.replay.report import (
    Firm,
    ReportInputError,
    auc,
    backtest_report,
    format_report,
    quantile,
    read_signals,
    read_truth,
    summary,
)

META = {"type": "meta", "from": "2025-01-01", "to": "2025-12-31", "ruleset": "2", "model": None}


def line(sid, firm, change, time, level, origin="rule", previous=None, backfill=False):
    return {
        "type": "signal",
        "time": time,
        "change": change,
        "signal_id": sid,
        "enterprise_id": sid,
        "credit_code": firm,
        "name": f"firm {firm}",
        "level": level,
        "previous_level": previous,
        "origin": origin,
        "rule_id": "R",
        "rule_version": "2",
        "backfill": backfill,
    }


LINES = [
    line(1, "A", "raised", "2025-03-03T00:00:00Z", "strong"),
    line(2, "C", "raised", "2025-04-01T03:00:00Z", "strong", origin="contagion"),
    line(2, "C", "expired", "2025-05-01T03:00:00Z", "strong", origin="contagion"),
    line(1, "A", "escalated", "2025-05-02T00:00:00Z", "hard", previous="strong"),
    line(3, "B", "raised", "2025-08-02T00:00:00Z", "medium"),
]


def day(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


FIRMS = [
    Firm("A", "firm A", day("2025-06-01"), "stressed"),
    Firm("B", "firm B", day("2025-09-01"), "quiet"),
    Firm("C", "firm C", None, ""),
    Firm("D", "firm D", None, ""),
]


def test_warned_shares_and_lead_times():
    report = backtest_report(META, LINES, FIRMS)
    s = report["signals"]
    assert (s["firms"], s["defaulters"], s["never_defaulting"]) == (4, 2, 2)
    strong = s["warned"]["strong"]
    assert (strong["warned"], strong["share"], strong["lead_days_median"]) == (1, 0.5, 90.0)
    assert (strong["share_30_days_ahead"], strong["share_90_days_ahead"]) == (0.5, 0.5)
    hard = s["warned"]["hard"]
    assert (hard["warned"], hard["lead_days_median"], hard["share_90_days_ahead"]) == (1, 30.0, 0)
    medium = s["warned"]["medium"]
    assert medium["warned"] == 2 and medium["share"] == 1.0
    assert (medium["lead_days_p25"], medium["lead_days_median"], medium["lead_days_p75"]) == (
        45.0,
        60.0,
        75.0,
    )


def test_false_alarms_precision_and_alert_rate_beside_the_baseline():
    report = backtest_report(META, LINES, FIRMS)
    s, b = report["signals"], report["baseline"]
    assert s["false_alarms"] == {"firms": 1, "rate": 0.5}
    assert b["false_alarms"] == {"firms": 0, "rate": 0.0}
    assert s["precision_by_level"]["strong"]["precision_12m"] == 0.5
    assert s["precision_by_level"]["strong"]["precision_6m"] == 0.5
    assert s["precision_by_level"]["hard"]["precision_12m"] == 1.0
    assert s["precision_by_level"]["medium"]["precision_6m"] == 1.0
    assert s["precision_by_origin"]["rule"]["flags"] == 2
    assert s["precision_by_origin"]["rule"]["precision_12m"] == 1.0
    assert s["precision_by_origin"]["contagion"]["precision_12m"] == 0.0
    assert s["precision_by_origin"]["model"]["precision_12m"] is None
    assert s["firms_flagged_strong_or_hard"]["precision_12m"] == 0.5
    assert b["firms_flagged_strong_or_hard"]["precision_12m"] == 1.0
    # 3 strong/hard flags in 365 days (52.14 weeks) over 4 firms
    assert s["alerts_per_week_per_1000"] == pytest.approx(14.384, abs=0.001)
    assert b["alerts_per_week_per_1000"] == pytest.approx(9.589, abs=0.001)


def test_snapshot_auc_against_the_baseline():
    report = backtest_report(META, LINES, FIRMS)
    s, b = report["signals"]["auc"], report["baseline"]["auc"]
    # snapshots every 30 days from 01-01: 13; A in 6 of them, B in 9, C and D in all
    assert (s["snapshots"], s["rows"], s["positives"]) == (13, 41, 15)
    assert s["value"] == 0.6141  # C's strong contagion signal at 05-01 counts against
    assert b["value"] == 0.6333
    assert summary(report)["auc"] == 0.6141 and summary(report)["baseline_auc"] == 0.6333


def test_backfill_signals_are_counted_at_go_live_only():
    lines = [
        line(9, "D", "raised", "2025-02-01T03:00:00Z", "strong", backfill=True),
        # the recorder marks every change of a backfill signal: go-live stays at its raise
        line(9, "D", "escalated", "2025-03-01T03:00:00Z", "hard", previous="strong", backfill=True),
        *[ln for ln in LINES if ln["time"] > "2025-02-01T03:00:00Z"],
    ]
    meta = {**META}
    report = backtest_report(meta, lines, FIRMS)
    s = report["signals"]
    assert report["period"]["go_live"] == "2025-02-01T03:00:00Z"
    assert s["go_live"]["backfill_signals"] == 1
    assert s["go_live"]["backfill_by_level"]["strong"] == 1
    # the later escalation to hard is news: a false alarm on D, and one more alert
    assert s["false_alarms"]["firms"] == 2
    assert s["strong_or_hard_alerts"] == 4


def test_statistics_helpers():
    assert auc([0, 1, 2, 3], [0, 0, 1, 1]) == 1.0
    assert auc([1, 1], [0, 1]) == 0.5
    assert auc([1, 2], [1, 1]) is None
    assert quantile([], 0.5) is None
    assert quantile([10, 20, 30, 40], 0.25) == 17.5


def test_text_report_and_files(tmp_path):
    text = format_report(backtest_report(META, LINES, FIRMS))
    assert "strong or hard (signals)" in text and "strong or hard (baseline)" in text
    assert "false-alarm rate" in text and "AUC" in text
    rows = [r.split("  ") for r in text.splitlines() if r.startswith("level strong")]
    assert rows  # one aligned row per level
    signals = tmp_path / "signals.jsonl"
    signals.write_text(
        "\n".join(json.dumps(x) for x in [META, *LINES, {"type": "end", "days": 365}]) + "\n",
        encoding="utf-8",
    )
    meta, lines, end = read_signals(signals)
    assert meta["from"] == "2025-01-01" and len(lines) == 5 and end["days"] == 365
    truth = tmp_path / "defaults.csv"
    truth.write_text(
        "credit_code,name,default_date,default_kind\nA,firm A,2025-06-01,stressed\nD,firm D,,\n",
        encoding="utf-8",
    )
    firms = read_truth(truth)
    assert [f.key for f in firms] == ["A", "D"] and firms[1].default_at is None
    truth.write_text("credit_code,name\nA,firm A\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match="default_date"):
        read_truth(truth)
    signals.write_text('{"type": "signal"}\n', encoding="utf-8")
    with pytest.raises(ReportInputError, match="no meta line"):
        read_signals(signals)
