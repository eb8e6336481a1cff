"""Rule tags: the file is checked at import (the error names the line), and the vectorised
evaluation agrees with the rules written out by hand on a synthetic client base."""

from __future__ import annotations

import numpy as np
import pytest

from backend.marketing import synth, tags
from backend.marketing.tags import RULES_FILE, TagRuleError, parse_rules

GOOD = RULES_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'version: 1\ntags:\n  - name: a\n    all:\n      - [colour, "==", 1]\n',
            r":5: unknown field 'colour'",
        ),
        (
            'version: 1\ntags:\n  - name: a\n    all:\n      - [aum, "~", 1]\n',
            r":5: unknown op '~'",
        ),
        ("version: 1\ntags:\n  - name: a\n    when: []\n", r":4: unknown key 'when'"),
        ("version: 1\ncolour: 2\ntags: []\n", r":2: unknown key 'colour'"),
        ("version: 1\ntags:\n  - name: a\n    all:\n      - [age, between, [1]]\n", r":5: between"),
        ('version: 1\ntags:\n  - name: a\n    all:\n      - [tier, ">", 1]\n', r":5: tier is text"),
        ('version: 1\ntags:\n  - name: a\n    all:\n      - [aum, ">", .nan]\n', r":5: a number"),
        ("version: 1\ntags:\n  - name: a\n  - name: b\n", r":3: tag 'a' has no condition"),
        (
            'version: 1\ntags:\n  - name: a\n    all: [[age, ">", 1]]\n'
            '  - name: a\n    all: [[age, ">", 1]]\n',
            r":5: tag 'a' defined twice",
        ),
        ("version: [1\n", "not YAML"),
    ],
)
def test_a_bad_rule_file_is_refused_naming_the_line(text, message):
    with pytest.raises(TagRuleError, match=message):
        parse_rules(text, "t.yaml")


def test_the_shipped_file_is_valid_and_versioned():
    rules = parse_rules(GOOD)
    assert rules.version == tags.RULES.version
    assert {
        "high_value",
        "maturing_soon",
        "digital_first",
        "dormant",
        "early_repayer",
        "large_inflow_30d",
        "retiree",
        "young_professional",
        "loan_holder",
    } <= set(rules.names)


def test_evaluation_matches_the_rules_by_hand():
    frame = synth.clients(5000, seed=9)
    for name in tags.EVENT_FIELDS:
        frame[name] = 0
    frame.loc[frame.index[:7], "large_in_30d"] = 1
    got = tags.evaluate(frame)
    assert np.array_equal(got["high_value"], frame["aum"].to_numpy() >= 600_000)
    assert np.array_equal(got["retiree"], frame["age"].to_numpy() >= 60)
    young = (frame["age"].between(22, 35) & (frame["txn_90d"] >= 10)).to_numpy()
    assert np.array_equal(got["young_professional"], young)
    assert got["large_inflow_30d"].sum() == 7
    core = frame["tier"].isin(["affluent", "wealth"]) & (
        frame["maturing_30d"] | frame["digital_active"]
    )
    assert np.array_equal(got["affluent_growth"], core.to_numpy())
    assert 0 < got["loan_holder"].sum() < len(frame)
