"""The warning model: point-in-time training data, the scikit-learn classifiers, the model
registry in the database, and the evaluation report on a synthetic world.

- ``classifier``: the classifiers, their levels, explanations and metrics (pure);
- ``dataset``: point-in-time snapshots labelled "defaults within the horizon", the
  out-of-time split, the train/live skew check, publication lags (pure);
- ``levels``: level thresholds tuned to a ruleset's targets (precision, alert budget) (pure);
- ``registry``: trained models in ``risk_models``, out-of-time validation against the
  rule-level baseline, champion and challengers;
- ``backtest``: train on one world, replay the whole warning system on another with ground
  truth (``python -m backend.risk.ml.backtest``).

The classifier's public names are importable from here (``from backend.risk import ml;
ml.train(...)``).  ``TrainedModel`` must stay importable as ``backend.risk.ml.TrainedModel``:
artifacts pickled before the package existed name that path."""

from backend.risk.ml.classifier import (
    ALGORITHMS,
    DEFAULT_THRESHOLDS,
    Contribution,
    TrainedModel,
    dumps,
    loads,
    metrics,
    precision_at_k,
    train,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_THRESHOLDS",
    "Contribution",
    "TrainedModel",
    "dumps",
    "loads",
    "metrics",
    "precision_at_k",
    "train",
]
