"""Uplift meta-learners written on scikit-learn (docs/marketing.md "Uplift model").

An uplift model predicts, per client, what contact adds to the probability of converting:
``tau(x) = P(y=1 | x, treated) - P(y=1 | x, control)``. The campaigns randomise, so the
propensity of treatment is known: ``e = 1 - control_share`` for every client.

- ``TLearner``: one classifier per arm, ``tau = mu1(x) - mu0(x)``;
- ``XLearner`` (Künzel et al. 2019): the T-learner's two outcome models, then each arm's
  imputed effects (treated: ``y - mu0(x)``, control: ``mu1(x) - y``) regressed on x, blended
  ``tau = e * tau0(x) + (1 - e) * tau1(x)``;
- ``SLearner``: one classifier on x and the arm, ``tau = mu(x, 1) - mu(x, 0)``.

The base learners are histogram gradient boosting (``HistGradientBoostingClassifier`` /
``Regressor``) with shallow trees, early stopping off (deterministic for a seed) and large
leaves, so a few thousand clients per arm give a usable ranking; they run on one thread
(``threadpool_limits``): on a shared two-core machine OpenMP's threads made a fit 5-30 times
slower. A fitted model
is a plain picklable object: ``predict(frame)`` reads the columns named in ``features``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

METHODS = ("t_learner", "x_learner", "s_learner")


# Shallow trees (depth 2: pairwise interactions), few rounds and large leaves: conversion is
# noisy and the uplift a small difference of two probabilities, so deeper or longer boosting
# fits noise (measured on synth: rank correlation with the planted uplift 0.4 -> 0.8 at 8,000
# clients when going from depth-unlimited 15-leaf trees x 150 rounds to this).
BASE = {
    "learning_rate": 0.1,
    "max_iter": 60,
    "max_depth": 2,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


def _leaf(n: int) -> int:
    return max(100, n // 100)


def _classifier(seed: int, n: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(**BASE, min_samples_leaf=_leaf(n), random_state=seed)


def _regressor(seed: int, n: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(**BASE, min_samples_leaf=_leaf(n), random_state=seed)


def _proba(model, x: np.ndarray) -> np.ndarray:
    """P(y = 1); a model fitted on one class only predicts that class."""
    classes = list(model.classes_)
    if classes == [1] or classes == [1.0]:
        return np.ones(len(x))
    if 1 not in classes and 1.0 not in classes:
        return np.zeros(len(x))
    return model.predict_proba(x)[:, classes.index(1)]


class _Base:
    method = ""

    def __init__(self, features: list[str] | tuple[str, ...], seed: int = 0) -> None:
        self.features = list(features)
        self.seed = seed
        self.control_share: float | None = None
        self.fitted = False

    def _x(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ValueError(f"the frame lacks the feature(s) {', '.join(missing)}")
        x = frame.loc[:, self.features].to_numpy(dtype=float)
        if not np.all(np.isfinite(x)):
            raise ValueError("a feature value is not finite")
        return x

    def fit(self, frame: pd.DataFrame, treated, converted, control_share: float | None = None):
        """Fit on the clients of ``frame``; ``control_share`` the randomisation's (default:
        the share observed)."""
        x = self._x(frame)
        t = np.asarray(treated).astype(bool)
        y = np.asarray(converted).astype(int)
        if len(t) != len(x) or len(y) != len(x):
            raise ValueError("treated and converted have one value per client")
        if t.sum() < 10 or (~t).sum() < 10:
            raise ValueError("each arm needs at least 10 clients")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("converted is 0 or 1")
        share = float((~t).mean()) if control_share is None else float(control_share)
        if not 0.0 < share < 1.0:
            raise ValueError("control_share is between 0 and 1")
        self.control_share = share
        with threadpool_limits(limits=1):  # OpenMP threads oversubscribe a shared machine
            self._fit(x, t, y)
        self.fitted = True
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The predicted uplift of each client (a probability difference)."""
        if not self.fitted:
            raise ValueError("the model is not fitted")
        with threadpool_limits(limits=1):
            return self._predict(self._x(frame))


class TLearner(_Base):
    method = "t_learner"

    def _fit(self, x, t, y) -> None:
        n = len(x)
        self.mu1 = _classifier(self.seed, n).fit(x[t], y[t])
        self.mu0 = _classifier(self.seed + 1, n).fit(x[~t], y[~t])

    def _predict(self, x) -> np.ndarray:
        return _proba(self.mu1, x) - _proba(self.mu0, x)


class XLearner(TLearner):
    method = "x_learner"

    def _fit(self, x, t, y) -> None:
        super()._fit(x, t, y)
        n = len(x)
        d1 = y[t] - _proba(self.mu0, x[t])
        d0 = _proba(self.mu1, x[~t]) - y[~t]
        self.tau1 = _regressor(self.seed + 2, n).fit(x[t], d1)
        self.tau0 = _regressor(self.seed + 3, n).fit(x[~t], d0)

    def _predict(self, x) -> np.ndarray:
        e = 1.0 - float(self.control_share)  # the known propensity of treatment
        return e * self.tau0.predict(x) + (1.0 - e) * self.tau1.predict(x)


class SLearner(_Base):
    method = "s_learner"

    def _fit(self, x, t, y) -> None:
        self.mu = _classifier(self.seed, len(x)).fit(np.c_[x, t.astype(float)], y)

    def _predict(self, x) -> np.ndarray:
        ones = np.ones((len(x), 1))
        return _proba(self.mu, np.c_[x, ones]) - _proba(self.mu, np.c_[x, 0 * ones])


LEARNERS = {cls.method: cls for cls in (TLearner, XLearner, SLearner)}


def make(method: str, features, seed: int = 0) -> _Base:
    """A new learner by name (``METHODS``)."""
    if method not in LEARNERS:
        raise ValueError(f"method is one of {', '.join(METHODS)}")
    return LEARNERS[method](features, seed=seed)
