"""The meta-learners rank held-out synthetic clients by their planted uplift: their Qini
beats random targeting clearly, and their predictions correlate with ``true_uplift``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from backend.marketing import synth
from backend.marketing.uplift import evaluate as ev
from backend.marketing.uplift import learners

N = 8_000


@pytest.fixture(scope="module")
def data():
    frame = synth.clients(2 * N, seed=21)
    treated = np.random.default_rng(22).random(2 * N) >= 0.25
    out = synth.outcomes(frame, treated, seed=23)
    return frame, synth.features(frame), treated, out["converted"].to_numpy()


@pytest.mark.parametrize("method", learners.METHODS)
def test_learner_beats_random_targeting_on_held_out_clients(data, method):
    frame, x, treated, y = data
    model = learners.make(method, synth.FEATURES, seed=0)
    model.fit(x.iloc[:N], treated[:N], y[:N], control_share=0.25)
    score = model.predict(x.iloc[N:])
    truth = frame["true_uplift"].to_numpy()[N:]
    qini = ev.qini_curve(y[N:], treated[N:], score)
    noise = ev.qini_curve(y[N:], treated[N:], np.random.default_rng(0).random(N))
    assert qini["auuc_ratio"] > 1.15, qini["auuc_ratio"]
    assert qini["auuc"] > noise["auuc"] * 1.1
    assert np.corrcoef(score, truth)[0, 1] > 0.5
    # the top 30% by the model gain more than the population
    assert (
        ev.uplift_at_k(y[N:], treated[N:], score, 0.3)["uplift"]
        > ev.uplift_interval(y[N:], treated[N:])["uplift"]
    )
    again = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own object
    assert np.array_equal(again.predict(x.iloc[N:]), score)


def test_learner_refuses_bad_input(data):
    _frame, x, treated, y = data
    model = learners.make("t_learner", synth.FEATURES)
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(x)
    with pytest.raises(ValueError, match="at least 10"):
        model.fit(x.iloc[:50], np.ones(50, bool), y[:50])
    with pytest.raises(ValueError, match="lacks"):
        model.fit(x.drop(columns=["age"]), treated, y)
    with pytest.raises(ValueError, match="method"):
        learners.make("r_learner", synth.FEATURES)
    bad = x.copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.fit(bad, treated, y)
