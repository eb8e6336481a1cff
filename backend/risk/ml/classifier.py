"""The warning model: scikit-learn classifiers of "defaults within the horizon" on the
features of backend/risk/scoring/features.py, with calibrated probabilities, levels, metrics
and per-signal explanations.

- Algorithms: ``hgb`` (histogram gradient boosting) and ``logreg`` (standardised logistic
  regression), each wrapped in ``CalibratedClassifierCV`` (cross-validated: the calibrator
  never sees the rows its classifier was fitted on): isotonic when there are enough positives,
  sigmoid otherwise.
- Levels: calibrated probability -> level by the model's thresholds (stored with the model).
- Explanations: for a row, each feature in turn is set to its training median and the change
  of the classifiers' averaged decision value (log-odds scale) is that feature's contribution;
  the top ones by size answer "why" for every model signal.  Model-agnostic (works the same for
  both algorithms) and exact about what the model does, at the cost of n_features predictions.
- Metrics: ROC AUC, average precision, Brier score, log loss, precision in the top k.

Artifacts are pickled (``dumps``/``loads``) and verified by SHA-256 before loading; they are
written only by this code into the bank's own database (``registry.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.platform import artifacts
from backend.risk.scoring.features import FEATURE_NAMES

DEFAULT_THRESHOLDS = {"hard": 0.8, "strong": 0.45, "medium": 0.2, "weak": 0.08}
ALGORITHMS = ("hgb", "logreg")


@dataclass
class Contribution:
    feature: str
    value: float
    reference: float
    effect: float  # change of the decision value (log-odds) this feature's value causes

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": round(self.value, 4),
            "reference": round(self.reference, 4),
            "effect": round(self.effect, 4),
        }


@dataclass
class TrainedModel:
    algorithm: str
    estimator: Any
    feature_names: tuple[str, ...]
    reference: np.ndarray
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    params: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        with _one_thread():
            return self.estimator.predict_proba(np.asarray(X, dtype=float))[:, 1]

    def decision(self, X: np.ndarray) -> np.ndarray:
        """The calibrated ensemble's averaged raw decision value (log-odds scale)."""
        X = np.asarray(X, dtype=float)
        with _one_thread():
            values = [
                c.estimator.decision_function(X) for c in self.estimator.calibrated_classifiers_
            ]
        return np.mean(values, axis=0)

    def level(self, probability: float) -> str | None:
        best = None
        for level in ("weak", "medium", "strong", "hard"):
            if level in self.thresholds and probability >= self.thresholds[level]:
                best = level
        return best

    def explain(self, X: np.ndarray, top: int = 5) -> list[list[Contribution]]:
        X = np.asarray(X, dtype=float)
        if len(X) == 0:
            return []
        n, m = X.shape
        base = self.decision(X)
        probes = np.repeat(X, m, axis=0)
        cols = np.tile(np.arange(m), n)
        probes[np.arange(n * m), cols] = self.reference[cols]
        effects = (base.repeat(m) - self.decision(probes)).reshape(n, m)
        out = []
        for i in range(n):
            order = np.argsort(-np.abs(effects[i]), kind="stable")[:top]
            out.append(
                [
                    Contribution(
                        self.feature_names[j],
                        float(X[i, j]),
                        float(self.reference[j]),
                        float(effects[i, j]),
                    )
                    for j in order
                    if abs(effects[i, j]) > 1e-9
                ]
            )
        return out


def _one_thread():
    """OpenMP threads cost more than they bring on data of this size (measured: 5x slower
    with 2 threads on a busy 2-core machine), and a web worker should not fan out."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def make_estimator(algorithm: str, *, positives: int, random_state: int = 0):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if algorithm == "hgb":
        base = HistGradientBoostingClassifier(
            max_iter=150,
            learning_rate=0.06,
            max_leaf_nodes=15,
            min_samples_leaf=30,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=15,
            random_state=random_state,
        )
    elif algorithm == "logreg":
        base = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=5000))
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; one of {ALGORITHMS}")
    method = "isotonic" if positives >= 200 else "sigmoid"
    folds = 3 if positives >= 3 else 2
    return CalibratedClassifierCV(base, method=method, cv=folds), method


def train(
    X: np.ndarray,
    y: np.ndarray,
    algorithm: str = "hgb",
    *,
    random_state: int = 0,
    thresholds: dict[str, float] | None = None,
) -> TrainedModel:
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=int)
    positives = int(y.sum())
    if positives < 2 or positives > len(y) - 2:
        raise ValueError(f"need both classes to train: {positives} positives in {len(y)} rows")
    estimator, method = make_estimator(algorithm, positives=positives, random_state=random_state)
    with _one_thread():
        estimator.fit(X, y)
    return TrainedModel(
        algorithm=algorithm,
        estimator=estimator,
        feature_names=tuple(FEATURE_NAMES),
        reference=np.median(X, axis=0),
        thresholds=dict(thresholds or DEFAULT_THRESHOLDS),
        params={"calibration": method, "rows": len(y), "positives": positives},
    )


def precision_at_k(y: np.ndarray, scores: np.ndarray, k: int) -> float:
    if k <= 0 or len(y) == 0:
        return 0.0
    top = np.argsort(-scores, kind="stable")[: min(k, len(y))]
    return float(np.mean(np.asarray(y)[top]))


def metrics(y: np.ndarray, p: np.ndarray, *, ks: tuple[int, ...] = (20, 50, 100)) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    both = 0 < y.sum() < len(y)
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "positive_rate": round(float(y.mean()), 4) if len(y) else 0.0,
        "auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "average_precision": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 5) if len(y) else None,
        "log_loss": round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])), 5)
        if len(y)
        else None,
        "precision_at_k": {str(k): round(precision_at_k(y, p, k), 4) for k in ks if k <= len(y)},
    }


def dumps(model: TrainedModel) -> tuple[bytes, str]:
    return artifacts.dumps(model)


def loads(blob: bytes, sha256: str) -> TrainedModel:
    return artifacts.loads(blob, sha256)
