"""Campaign evaluation on synthetic clients whose uplift is planted (backend/marketing/synth):
the interval covers the truth about 95% of the time, the Qini curve of the true uplift beats
random targeting and a random score does not, the published Newcombe examples, Welch's
interval and the tier-up ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.marketing import synth
from backend.marketing.uplift import evaluate as ev


def _campaign(n: int, seed: int, control_share: float = 0.25):
    frame = synth.clients(n, seed=seed)
    treated = np.random.default_rng(seed + 10_000).random(n) >= control_share
    out = synth.outcomes(frame, treated, seed=seed + 20_000)
    return frame, treated, out


def test_newcombe_reproduces_the_published_examples():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10
    got = ev.newcombe(56, 70, 48, 80)
    assert got["uplift"] == pytest.approx(0.2)
    assert (round(got["low"], 4), round(got["high"], 4)) == (0.0524, 0.3339)
    got = ev.newcombe(9, 10, 3, 10)
    assert (round(got["low"], 4), round(got["high"], 4)) == (0.1705, 0.8090)
    got = ev.newcombe(0, 10, 0, 20)  # no conversion anywhere: still a proper interval
    assert got["uplift"] == 0 and got["low"] < 0 < got["high"]
    assert ev.newcombe(1, 0, 1, 10)["uplift"] is None


def test_the_interval_covers_the_planted_uplift():
    # one fixed draw (any seed misses with 5% probability; the next test checks the rate)
    frame, treated, out = _campaign(20_000, seed=6)
    got = ev.uplift_interval(out["converted"], treated)
    truth = frame["true_uplift"][treated].mean()
    assert got["low"] <= truth <= got["high"]
    assert got["low"] > 0  # a real effect is seen at this size
    assert got["method"] == "newcombe"


def test_coverage_over_repeated_draws_is_about_95_percent():
    covered = 0
    draws = 200
    for i in range(draws):
        frame, treated, out = _campaign(1_500, seed=100 + i)
        got = ev.uplift_interval(out["converted"], treated)
        covered += got["low"] <= frame["true_uplift"][treated].mean() <= got["high"]
    assert 0.90 <= covered / draws <= 0.99, covered


def test_qini_of_the_true_uplift_beats_random_and_a_random_score_does_not():
    frame, treated, out = _campaign(40_000, seed=2)
    y = out["converted"].to_numpy()
    oracle = ev.qini_curve(y, treated, frame["true_uplift"].to_numpy())
    noise = ev.qini_curve(y, treated, np.random.default_rng(3).random(len(y)))
    assert len(oracle["x"]) == len(oracle["qini"]) == 101
    assert oracle["x"][0] == 0 and oracle["x"][-1] == 1 and oracle["qini"][0] == 0
    # both curves end at the same point: everyone targeted
    assert oracle["qini"][-1] == pytest.approx(noise["qini"][-1])
    assert oracle["auuc_ratio"] > 1.25 and oracle["qini_coefficient"] > 0
    assert 0.85 < noise["auuc_ratio"] < 1.15
    assert ev.auuc(y, treated, frame["true_uplift"]) == pytest.approx(oracle["auuc"])
    # the top 20% by true uplift gain more than everyone on average
    top = ev.uplift_at_k(y, treated, frame["true_uplift"].to_numpy(), k=0.2)
    overall = ev.uplift_interval(y, treated)
    assert top["n"] == 8_000 and top["uplift"] > overall["high"]


def test_qini_takes_ties_together_and_by_hand():
    # 4 clients, 2 scores: the tie group (the first two) counts as one step
    y = [1, 0, 1, 0]
    t = [1, 0, 0, 1]
    s = [0.9, 0.9, 0.1, 0.1]
    got = ev.qini_curve(y, t, s, points=3)
    # at x=0.5: Y_t=1, Y_c=0, N_t=1, N_c=1 -> Q = 1/4; at 1: 1 - 1*2/2 = 0
    assert got["qini"] == [0.0, 0.25, 0.0]
    assert got["auuc"] == pytest.approx(0.5 * 0.25 / 2 + 0.5 * 0.25 / 2)
    assert got["auuc_ratio"] is None  # random targeting gains nothing here
    with pytest.raises(ValueError):
        ev.qini_curve(y, t, [0.1, math.nan, 0.2, 0.3])
    with pytest.raises(ValueError):
        ev.uplift_interval([1, 2], [1, 0])


def test_welch_interval_for_aum_growth_covers_the_planted_difference():
    frame, treated, out = _campaign(20_000, seed=4)
    growth = out["aum_after"] / frame["aum"] - 1.0
    got = ev.mean_difference(growth[treated], growth[~treated])
    converted = out["converted"].to_numpy()
    # the planted difference: growth uplift plus 5% for each extra conversion
    truth = frame["true_growth_uplift"][treated].mean() + 0.05 * (
        converted[treated].mean() - converted[~treated].mean()
    )
    assert got["low"] <= truth <= got["high"] and got["low"] > 0
    assert got["method"] == "welch" and got["df"] > 1000
    # small samples: against scipy's Welch test (t quantile within 1e-3 at df >= 5)
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = np.array([2.0, 2.5, 2.0, 3.5, 9.0, 1.0])
    got = ev.mean_difference(a, b)
    assert got["difference"] == pytest.approx(1 / 6)
    assert got["df"] == pytest.approx(8.5602, abs=1e-4)  # scipy: 8.56024
    assert got["high"] - got["difference"] == pytest.approx(3.2064, abs=2e-3)  # scipy: 3.20644
    assert ev.mean_difference([1.0], [2.0, 3.0])["low"] is None


def test_tier_up_per_arm_and_ratio():
    _frame, treated, out = _campaign(30_000, seed=5)
    got = ev.tier_up(out["tier_up"], treated)
    assert got["treatment"]["rate"] > got["control"]["rate"]
    assert got["ratio"]["low"] > 1.0 and got["ratio"]["method"] == "katz_log"
    assert ev.ratio_interval(3, 10, 0, 10)["ratio"] is None
