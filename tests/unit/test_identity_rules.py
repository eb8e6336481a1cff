"""Identity rules: roles by kind of org, codes, and opening hours (normalised, validated)."""

import pytest

from backend.identity import rules
from backend.platform.errors import ValidationFailed


def test_every_person_role_has_its_kinds_of_org_and_device_is_not_one():
    assert "device" not in rules.USER_ROLES
    rules.check_role_in_org("teller", "branch")
    rules.check_role_in_org("teller", "bank")
    rules.check_role_in_org("client", "enterprise")
    for role, kind in (("teller", "dealer"), ("dealer", "bank"), ("admin", "branch")):
        with pytest.raises(ValidationFailed) as refused:
            rules.check_role_in_org(role, kind)
        assert refused.value.code == "role_not_allowed_in_org"
    for role in ("device", "root"):
        with pytest.raises(ValidationFailed) as refused:
            rules.check_role_in_org(role, "bank")
        assert refused.value.code == "role_not_assignable"


def test_login_backoff_doubles_from_the_free_failures_up_to_its_cap():
    limits = rules.LoginLimits(backoff_base_s=30, backoff_max_s=900)
    assert [limits.backoff_s(n, 5) for n in (0, 4)] == [None, None]
    assert [limits.backoff_s(n, 5) for n in (5, 6, 7, 9, 10, 11)] == [30, 60, 120, 480, 900, 900]
    assert limits.backoff_s(10**6, 5) == 900  # never an overflow, never a permanent lock


def test_branch_codes_are_safe_topic_levels():
    assert rules.check_branch_code("BR-01_x") == "BR-01_x"
    for bad in ("", "BR 1", "BR/1", "+", "#", "-BR", "B" * 21, "STATE", "state"):
        with pytest.raises(ValidationFailed):
            rules.check_branch_code(bad)


def test_opening_hours_are_sorted_by_day_and_time():
    hours = rules.normalise_opening_hours(
        {"sat": [["10:00", "14:00"]], "mon": [["13:00", "24:00"], ["08:30", "12:00"]], "sun": []}
    )
    assert list(hours) == ["mon", "sat"]
    assert hours["mon"] == [["08:30", "12:00"], ["13:00", "24:00"]]


@pytest.mark.parametrize(
    "hours",
    [
        [],
        {"mon": "09:00-17:00"},
        {"mon": [["09:00"]]},
        {"mon": [["9:00", "17:00"]]},
        {"mon": [["09:00", "25:00"]]},
        {"mon": [["17:00", "17:00"]]},
        {"mon": [["09:00", "12:00"], ["11:59", "13:00"]]},
        {"holiday": [["09:00", "12:00"]]},
        {"mon": [[9, 17]]},
    ],
)
def test_bad_opening_hours_are_refused_with_the_field(hours):
    with pytest.raises(ValidationFailed) as refused:
        rules.normalise_opening_hours(hours)
    assert "opening_hours" in refused.value.details


def test_the_command_line_form_of_opening_hours():
    hours = rules.parse_opening_hours("mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00")
    assert set(hours) == {"mon", "tue", "wed", "thu", "fri", "sat"}
    assert hours["wed"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    with pytest.raises(ValidationFailed):
        rules.parse_opening_hours("weekdays 09:00-17:00")
