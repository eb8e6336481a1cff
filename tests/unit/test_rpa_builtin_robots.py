"""The built-in robots' manifests: each module's ROBOT is what the factory can deploy (name =
module, a known department, a schedule croniter reads, typed inputs), and only the margin
robot says it moves money. Cheap: no database."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, date, datetime

import pytest
from croniter import croniter

from backend.rpa.robot import DEPARTMENTS, FIELD_TYPES, Robot

BUILT_IN = (
    "margin_reconciliation",
    "bill_reminders",
    "collateral_revaluation",
    "risk_refresh",
    "clearing_reconciliation",
    "regulatory_export",
)


@pytest.mark.parametrize("module", BUILT_IN)
def test_manifest_is_deployable(module):
    robot = importlib.import_module(f"robots.{module}").ROBOT
    m = robot.manifest
    assert isinstance(robot, Robot) and callable(robot.produce) and callable(robot.process)
    assert m.name == module and re.fullmatch(r"[a-z][a-z0-9_]{2,39}", m.name)
    assert re.fullmatch(r"\d+\.\d+\.\d+", m.version)
    assert m.department in DEPARTMENTS
    assert (m.schedule.cron is None) != (m.schedule.every_s is None)
    if m.schedule.cron:
        assert croniter.is_valid(m.schedule.cron)
    assert m.input_schema and set(m.input_schema.values()) <= set(FIELD_TYPES)
    assert m.timeout_s > 0 and m.max_retries >= 1 and m.manual_minutes > 0
    assert m.moves_money == (module == "margin_reconciliation")


def test_bill_milestones():
    from robots.bill_reminders import milestone

    due = date(2026, 12, 10)
    told = {
        left: milestone(due, date.fromordinal(due.toordinal() - left)) for left in range(-2, 10)
    }
    assert told == {
        -2: "overdue",
        -1: "overdue",
        0: "d1",
        1: "d1",
        2: "d3",
        3: "d3",
        4: "d7",
        5: "d7",
        6: "d7",
        7: "d7",
        8: None,
        9: None,
    }
    assert milestone(due, date(2026, 12, 1), overdue=True) == "overdue"


def test_report_period_is_the_month_just_ended():
    from robots.regulatory_export import previous_month

    assert previous_month(date(2026, 12, 1)) == "2026-11"
    assert previous_month(date(2027, 1, 1)) == "2026-12"
    assert previous_month(datetime(2026, 3, 31, tzinfo=UTC).date()) == "2026-02"
