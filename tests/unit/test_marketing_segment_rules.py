"""A segment definition is checked strictly before anything runs: every refusal names the
path of the bad node, nothing is guessed; the limits (depth 8, 100 leaves) hold; a model
definition's own keys are checked by its scorer; the stored form keeps AUM a decimal string."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backend.marketing.segments import rules, scorers
from backend.marketing.segments.members import parse_definition
from backend.platform.errors import ValidationFailed

MID = {"field": "tier", "op": "in", "value": ["affluent", "wealth"]}


def refused(definition) -> dict:
    with pytest.raises(ValidationFailed) as err:
        parse_definition(definition)
    assert err.value.code == "invalid_definition"
    return err.value.details


@pytest.mark.parametrize(
    "definition, path",
    [
        (None, "definition"),
        ([MID], "definition"),
        ({}, "definition"),
        ("tier", "definition"),
        ({"all": MID}, "definition.all"),
        ({"any": [MID, 3]}, "definition.any[1]"),
        ({"not": [MID]}, "definition.not"),
        ({"not": MID, "all": [MID]}, "definition"),
        ({"field": "tier", "op": "in", "value": []}, "definition.value"),
        ({"field": "tier", "op": "in", "value": ["mass"] * 51}, "definition.value"),
        ({"field": "tier", "op": "in", "value": "mass"}, "definition.value"),
        ({"field": "tier", "op": "==", "value": ["mass"]}, "definition.value"),
        ({"field": "tier", "op": "==", "value": "mass", "extra": 1}, "definition"),
        ({"field": "tier", "op": "=="}, "definition.value"),
        ({"field": "aum", "op": ">=", "value": "-1.00"}, "definition.value"),
        ({"field": "aum", "op": ">=", "value": "1.001"}, "definition.value"),
        ({"field": "aum", "op": ">=", "value": "１００"}, "definition.value"),
        ({"field": "aum", "op": ">=", "value": "NaN"}, "definition.value"),
        ({"field": "aum", "op": ">=", "value": "Infinity"}, "definition.value"),
        ({"field": "aum", "op": ">=", "value": 100}, "definition.value"),
        ({"field": "aum", "op": "between", "value": ["1.00"]}, "definition.value"),
        ({"field": "aum", "op": "in", "value": ["1.00"]}, "definition.op"),
        ({"field": "age", "op": ">=", "value": 2**63}, "definition.value"),
        ({"field": "age", "op": ">=", "value": -1}, "definition.value"),
        ({"field": "age", "op": ">=", "value": 30.0}, "definition.value"),
        ({"field": "age", "op": ">=", "value": float("nan")}, "definition.value"),
        ({"field": "risk_level", "op": "==", "value": 6}, "definition.value"),
        ({"field": "digital_active", "op": "==", "value": 1}, "definition.value"),
        ({"field": "digital_active", "op": ">=", "value": True}, "definition.op"),
        ({"field": "outlet", "op": "==", "value": "BR001'; DROP TABLE x;--"}, "definition.value"),
        ({"field": ["tier"], "op": "==", "value": "mass"}, "definition.field"),
        ({"field": "__class__", "op": "==", "value": "x"}, "definition.field"),
        ({"tag": ""}, "definition.tag"),
        ({"tag": "x" * 41}, "definition.tag"),
        ({"tag": "ok", "source": "rule"}, "definition"),
        ({"event": "maturity"}, "definition"),
        ({"event": "maturity", "within_days": 3651}, "definition.within_days"),
        ({"event": "maturity", "within_days": "7"}, "definition.within_days"),
        (
            {"all": [MID, {"not": {"field": "age", "op": "<=", "value": "x"}}]},
            "definition.all[1].not.value",
        ),
        ({"model": "propensity", "target": "renewal", "top": 0}, "definition.top"),
        (
            {"model": "propensity", "target": "renewal", "top": 5, "min_score": 0.1},
            "definition.top",
        ),
        (
            {"model": "propensity", "target": "renewal", "min_score": float("inf")},
            "definition.min_score",
        ),
        ({"model": "propensity", "target": "renewal", "min_score": True}, "definition.min_score"),
        ({"model": "propensity", "top": 5}, "definition.target"),
        (
            {"model": "propensity", "target": "renewal", "top": 5, "model_id": 3},
            "definition.model_id",
        ),
        ({"model": ["propensity"], "top": 5}, "definition.model"),
        (
            {
                "model": "propensity",
                "target": "renewal",
                "top": 5,
                "where": {"field": "x", "op": "==", "value": 1},
            },
            "definition.where.field",
        ),
    ],
)
def test_refused_with_the_path(definition, path):
    details = refused(definition)
    assert path in details, details


def _nest(depth: int) -> dict:
    node: dict = MID
    for _ in range(depth - 1):
        node = {"all": [node]}
    return node


def test_limits():
    parse_definition(_nest(8))
    assert "definition" + ".all[0]" * 8 in refused(_nest(9))
    parse_definition({"any": [MID] * 100})
    assert "definition" in refused({"any": [MID] * 101})
    # a document nested far past Python's stack is refused, not a crash
    node: dict = MID
    for _ in range(5000):
        node = {"not": node}
    assert refused(node)
    # many errors: the answer stays small
    assert len(refused({"any": [{"tag": "!"}] * 100})) <= 50


def test_normalised_and_stored_as_json():
    parsed = parse_definition({"field": "aum", "op": "between", "value": ["600000", "6000000.5"]})
    assert parsed.tree["value"] == [Decimal("600000.00"), Decimal("6000000.50")]
    assert parsed.stored() == {
        "field": "aum",
        "op": "between",
        "value": ["600000.00", "6000000.50"],
    }
    model = parse_definition(
        {"model": "propensity", "target": "loan", "min_score": 0.2, "where": MID}
    )
    assert model.kind == "model" and model.stored()["where"] == MID


def test_pick_top_and_cut():
    scores = {5: 0.2, 3: 0.9, 4: 0.2, 9: 0.05}
    assert list(scorers.pick(scores, {"top": 3})) == [3, 4, 5]  # ties by client id
    assert scorers.pick(scores, {"min_score": 0.2}) == {5: 0.2, 3: 0.9, 4: 0.2}


def test_mask_on_a_frame():
    frame = pd.DataFrame(
        {
            "tier": ["mass", "affluent", "wealth", "private"],
            "gender": ["F", "M", "F", "M"],
            "outlet": ["BR001", "BR002", "BR001", "BR003"],
            "aum": [1000.0, 50000.0, 600000.0, 6000000.0],
            "age": [20, 30, 66, 70],
            "risk_level": [1, 2, 3, 5],
            "digital_active": [True, False, True, False],
            "dormant": [False, False, True, False],
        },
        index=[11, 12, 13, 14],
    )
    tags = pd.DataFrame({"client": [12, 13], "tag": ["maturing_soon", "high_value"]})
    events = pd.DataFrame(
        {
            "client": [11, 14],
            "kind": ["large_in", "large_in"],
            "occurred_at": pd.to_datetime(["2026-05-26T00:00:00Z", "2026-05-25T23:59:59Z"]),
        }
    )
    pop = rules.Population(frame, tags, events)
    as_of = date(2026, 6, 1)

    def members(definition):
        return list(frame.index[rules.to_mask(rules.parse_rule(definition), pop, as_of)])

    assert members({"field": "aum", "op": ">=", "value": "50000.00"}) == [12, 13, 14]
    assert members(
        {"any": [{"tag": "maturing_soon"}, {"field": "age", "op": ">=", "value": 70}]}
    ) == [12, 14]
    assert members({"event": "large_in", "within_days": 7}) == [11]  # 26 May is day 7 of 7
    assert members({"not": {"field": "digital_active", "op": "==", "value": True}}) == [12, 14]
    assert np.array_equal(
        rules.to_mask(rules.parse_rule({"tag": "nobody"}), pop, as_of), np.zeros(4, bool)
    )
