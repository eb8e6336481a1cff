"""The synthetic client base: reproducible, tiers by AUM, planted uplift heterogeneous, and
outcomes that follow the truth."""

from __future__ import annotations

import numpy as np

from backend.marketing import synth


def test_same_seed_same_frame_and_tiers_follow_aum():
    a, b = synth.clients(5000, seed=3), synth.clients(5000, seed=3)
    assert a.equals(b)
    assert (synth.tier_of(a["aum"]) == a["tier_idx"]).all()
    assert set(a["tier"]) == set(synth.TIERS)
    assert not any(c.startswith("true_") for c in synth.features(a).columns)


def test_uplift_is_heterogeneous_and_outcomes_follow_it():
    frame = synth.clients(200_000, seed=4)
    by_tier = frame.groupby("tier")["true_uplift"].mean()
    assert by_tier["affluent"] > 3 * by_tier["mass"] > 0
    assert by_tier["private"] < by_tier["affluent"]
    assert (frame["true_uplift"] < 0).any()
    rng = np.random.default_rng(9)
    treated = rng.random(len(frame)) < 0.75
    out = synth.outcomes(frame, treated, seed=10)
    observed = out.loc[treated, "converted"].mean() - out.loc[~treated, "converted"].mean()
    expected = frame.loc[treated, "true_uplift"].mean()
    se = np.sqrt(0.1 * 0.9 / treated.sum() + 0.1 * 0.9 / (~treated).sum())
    assert abs(observed - expected) < 4 * se


def test_a_day_of_transactions_is_in_time_order():
    frame = synth.clients(1000, seed=5)
    feed = synth.transactions(frame, 20_000, seed=6)
    assert feed["at"].is_monotonic_increasing
    assert feed["ref"].is_unique and len(feed) == 20_000
    assert feed["client"].between(0, 999).all()
    assert (
        (feed["amount"] > 0)
        == feed["kind"].isin(["salary", "deposit", "transfer_in", "wealth_redeem"])
    ).all()
