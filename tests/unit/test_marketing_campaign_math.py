"""The campaign's power, its stratified draw, SMS templates and do-not-disturb hours: pure
functions against known values."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.marketing.campaigns import assign, power, templates
from backend.marketing.contact import in_dnd, load_policy

SH = ZoneInfo("Asia/Shanghai")


def test_power_matches_the_textbook_two_proportion_example():
    # Fleiss (normal approximation, no continuity correction): 0.50 vs 0.60, two-sided 5%,
    # 80% power needs 388 per arm (387.3 rounded up)
    assert power.power(388, 388, 0.5, 0.1) == pytest.approx(0.80, abs=0.003)
    assert power.power(387, 387, 0.5, 0.1) < 0.80 < power.power(389, 389, 0.5, 0.1)
    assert power.mde(388, 388, 0.5) == pytest.approx(0.10, abs=0.001)
    # no effect: the test rejects at its size
    assert power.power(1000, 1000, 0.2, 0.0) == pytest.approx(0.05, abs=1e-9)


def test_power_grows_with_size_and_the_split_costs_power():
    p = [power.power(n, n // 3, 0.1, 0.03) for n in (300, 1200, 4800)]
    assert p[0] < p[1] < p[2]
    # the same 1600 clients split 3:1 detect less than split 1:1
    assert power.power(1200, 400, 0.1, 0.03) < power.power(800, 800, 0.1, 0.03)
    assert power.mde(0, 10, 0.1) is None and power.power(0, 10, 0.1, 0.05) == 0.0


def test_report_rows_per_tier_and_overall():
    sizes = assign.arm_sizes({"affluent": 400, "wealth": 100}, 0.25)
    assert sizes == {"affluent": (300, 100), "wealth": (75, 25)}
    rep = power.report(sizes, 0.1, 0.05, baseline_source="default")
    assert rep["overall"]["treatment"] == 375 and rep["overall"]["control"] == 125
    tiers = {row["tier"]: row for row in rep["tiers"]}
    assert [row["tier"] for row in rep["tiers"]] == ["affluent", "wealth"]
    assert tiers["wealth"]["power"] < rep["overall"]["power"]
    assert rep["overall"]["mde"] < tiers["wealth"]["mde"]


def test_draw_is_stratified_exact_and_deterministic():
    members = [(i, "mass" if i % 3 else "wealth") for i in range(1, 1002)]
    arms = assign.draw(members, 0.25, seed=42)
    again = assign.draw(list(reversed(members)), 0.25, seed=42)
    other = assign.draw(members, 0.25, seed=43)
    assert arms == again and arms != other
    per = Counter((stratum, arms[i]) for i, stratum in members)
    n_wealth = sum(1 for _, s in members if s == "wealth")
    n_mass = len(members) - n_wealth
    assert per[("wealth", "control")] == assign.control_count(n_wealth, 0.25)
    assert per[("mass", "control")] == assign.control_count(n_mass, 0.25)
    assert per[("mass", "treatment")] == n_mass - per[("mass", "control")]
    assert assign.control_count(2, 0.25) == 1 and assign.control_count(6, 0.25) == 2  # half up


def test_templates_allow_known_placeholders_only():
    assert templates.problems("尊敬的{name}：{product}于{ends_on}前可在{outlet}办理") == []
    assert templates.problems("{name.__class__}")
    assert templates.problems("{name!r}") and templates.problems("{name:>99999}")
    assert (
        templates.problems("{phone}") and templates.problems("{") and templates.problems("x" * 301)
    )
    assert templates.render("您好{name}", {"name": "王芳"}) == "您好王芳"


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("21:00", True),
        ("23:59", True),
        ("03:00", True),
        ("08:59", True),
        ("09:00", False),
        ("12:00", False),
        ("20:59", False),
    ],
)
def test_do_not_disturb_hours_cross_midnight(local, inside):
    h, m = map(int, local.split(":"))
    at = datetime(2026, 12, 4, h, m, tzinfo=SH)
    assert in_dnd(at, "21:00", "09:00") is inside
    assert in_dnd(at, None, None) is False
    assert in_dnd(at, "12:00", "13:00") is (local == "12:00")


def test_the_policy_file_loads_and_bad_files_are_refused(tmp_path):
    policy = load_policy()
    assert policy.fatigue == ((7, 2), (30, 4)) and "sms" in policy.do_not_disturb
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\ntimezone: Asia/Shanghai\nconsent: {sms: sms}\nfatigue: []\n")
    with pytest.raises(ValueError):
        load_policy(bad)
