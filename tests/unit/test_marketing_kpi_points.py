"""The KPI points file: the shipped one loads; a file with a missing metric, an unknown key, a
negative or boolean number or a bad version is refused with a message naming the place."""

from __future__ import annotations

import copy

import pytest
import yaml

from backend.marketing import kpi

GOOD = yaml.safe_load(kpi.POINTS_FILE.read_text(encoding="utf-8"))


def test_the_shipped_points_load():
    points = kpi.parse_points(GOOD)
    assert points.version >= 1
    assert set(points.per_unit) == set(kpi.COUNT_METRICS)
    assert set(points.per_rate_unit) == set(points.min_base) == set(kpi.RATE_METRICS)


def _with(change):
    doc = copy.deepcopy(GOOD)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["metrics"].pop("calls"), "metrics are exactly"),
        (lambda d: d.update(extra=1), "exactly 'version' and 'metrics'"),
        (lambda d: d.update(version=0), "version"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d["metrics"]["calls"].update(per_unit=-1), "calls.per_unit"),
        (lambda d: d["metrics"]["sms"].update(per_unit=True), "sms.per_unit"),
        (lambda d: d["metrics"]["sms"].update(bonus=2), "sms has exactly per_unit"),
        (lambda d: d["metrics"]["reach_rate"].update(min_base=0), "reach_rate.min_base"),
        (lambda d: d["metrics"]["reach_rate"].update(per_rate_unit="x"), "per_rate_unit"),
    ],
)
def test_a_bad_points_file_is_refused(change, message):
    with pytest.raises(kpi.PointsError, match=message):
        kpi.parse_points(_with(change))
    with pytest.raises(kpi.PointsError):
        kpi.parse_points([1, 2])
