"""The segment benchmark's rows in the contract's format (finite numbers, a positive baseline,
ratio = baseline time / ours), on a small population; and its two masks are the same answer."""

from __future__ import annotations

import math

import numpy as np

from backend.marketing.segments import bench


def test_rows_in_the_contract_format():
    (row,) = bench.rows(quick=True)
    assert set(row) == {
        "bench",
        "metric",
        "value",
        "unit",
        "baseline",
        "baseline_value",
        "ratio",
        "params",
    }
    assert row["bench"] == "marketing" and row["unit"] == "s"
    for key in ("value", "baseline_value", "ratio"):
        assert math.isfinite(row[key]) and row[key] > 0
    # oriented: the baseline's time over ours (both rounded in the row: a small tolerance)
    assert abs(row["ratio"] - row["baseline_value"] / row["value"]) <= 2e-3 * row["ratio"]
    assert row["params"]["clients"] == 100_000 and 0 < row["params"]["members"] < 100_000


def test_compiled_and_hand_written_masks_agree():
    pop = bench.population(5_000, seed=3)
    mask = bench.compiled(pop)
    assert np.array_equal(mask, bench.baseline(pop)) and 0 < mask.sum() < 5_000
