"""The calibrated propensity model against the synthetic truth: trained on no-contact
outcomes drawn from ``true_p0``, its scores on new clients track ``true_p0`` (calibrated
within a tolerance, bin by bin), it ranks as well as a floor below the truth's own AUC, and
its held-out report says so (Brier under the base rate's, small ECE)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from backend.marketing import synth
from backend.marketing.segments import propensity
from backend.platform.errors import BusinessRuleViolation


def test_calibrated_on_the_planted_truth():
    train = synth.clients(20_000, seed=5)
    labels = synth.outcomes(train, np.zeros(len(train), bool), seed=6)["converted"].to_numpy()
    fitted = propensity.fit(synth.features(train), labels)
    m = fitted.metrics
    assert m["n_train"] + m["n_test"] == 20_000 and m["calibration"] == "isotonic"
    assert m["brier"] < m["brier_base_rate"]
    assert m["ece"] < 0.02 and abs(m["mean_predicted"] - m["observed_rate"]) < 0.01
    assert sum(b["n"] for b in m["reliability"]) == m["n_test"]

    fresh = synth.clients(20_000, seed=9)
    p = fitted.predict(fresh)
    truth = fresh["true_p0"].to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    assert np.abs(p - truth).mean() < 0.02
    # bin by bin (deciles of the score), the mean score is the mean true probability
    order = np.argsort(p)
    for part in np.array_split(order, 10):
        assert abs(p[part].mean() - truth[part].mean()) < 0.025
    outcome = synth.outcomes(fresh, np.zeros(len(fresh), bool), seed=7)["converted"]
    auc, auc_truth = roc_auc_score(outcome, p), roc_auc_score(outcome, truth)
    assert auc > 0.56 and auc > auc_truth - 0.02
    # and it beats a model that knows nothing
    assert np.corrcoef(p, truth)[0, 1] > 0.8


def test_too_little_data_is_refused():
    frame = synth.clients(200, seed=1)
    labels = np.zeros(200, int)
    labels[:5] = 1
    with pytest.raises(BusinessRuleViolation) as err:
        propensity.fit(synth.features(frame), labels)
    assert err.value.code == "not_enough_training_data"
