"""Calibrated propensity: the chance a client converts on a target (renews a wealth product,
buys one, opens a time deposit, takes a loan) *without* being contacted.

Trained on past campaigns' control arms when there are enough of them (the holdout's
conversions are exactly the no-contact outcome), else on holdings: who already holds the
product (the features that give the answer away, such as ``has_wealth`` for a wealth target,
are dropped). A standardised logistic regression (scikit-learn) calibrated by
``CalibratedClassifierCV`` (isotonic with enough rows, else sigmoid), judged on a held-out
quarter: Brier score against the base rate's, reliability bins, expected calibration error
and AUC. ``fit`` is pure (arrays in, model and metrics out); ``training_data`` reads the
tables; ``score`` puts both together for a model list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from backend.marketing import synth
from backend.marketing.load import client_frame
from backend.marketing.models import Assignment, Campaign, Conversion, Holding
from backend.platform.errors import BusinessRuleViolation


@dataclass(frozen=True)
class Target:
    conversion: str | None  # the campaigns' target indicator and conversion kind
    holding: str  # the holding kind that stands for it when no campaign has ended
    leaks: tuple[str, ...]  # features that give a holdings label away


TARGETS: dict[str, Target] = {
    "renewal": Target("renewal", "wealth", ("has_wealth", "wealth_maturity_days")),
    "purchase": Target("purchase", "wealth", ("has_wealth", "wealth_maturity_days")),
    "time_deposit": Target(None, "time", ("has_time_deposit", "time_maturity_days")),
    "loan": Target(None, "loan", ("loan_balance",)),
}
MIN_CAMPAIGN_ROWS = 200  # control-arm rows before the campaigns are the training data
MIN_CLASS = 10  # positives and negatives needed at least
SEED = 20261204
BINS = 10


@dataclass
class Fitted:
    model: CalibratedClassifierCV
    features: list[str]
    metrics: dict
    version: str = ""
    source: str = ""
    target: str = ""
    info: dict = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        x = synth.features(frame).loc[:, self.features]
        return self.model.predict_proba(x.to_numpy())[:, 1]


def reliability(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> list[dict]:
    """Equal-width bins of the predicted probability: count, mean predicted, observed rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        if n:
            out.append(
                {
                    "low": round(float(edges[b]), 2),
                    "high": round(float(edges[b + 1]), 2),
                    "n": n,
                    "predicted": round(float(p[sel].mean()), 4),
                    "observed": round(float(y[sel].mean()), 4),
                }
            )
    return out


def fit(x: pd.DataFrame, y: np.ndarray, *, seed: int = SEED) -> Fitted:
    """Train on three quarters, report on the held-out quarter (stratified by the label)."""
    y = np.asarray(y, dtype=int)
    positives = int(y.sum())
    if len(y) < 4 * MIN_CLASS or positives < MIN_CLASS or len(y) - positives < MIN_CLASS:
        raise BusinessRuleViolation(
            "not enough training data for a propensity model",
            code="not_enough_training_data",
            details={"rows": len(y), "positives": positives, "needs_each_class": MIN_CLASS},
        )
    xa = x.to_numpy(dtype=float)
    x_tr, x_te, y_tr, y_te = train_test_split(xa, y, test_size=0.25, random_state=seed, stratify=y)
    base = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    method = "isotonic" if len(y_tr) >= 4000 else "sigmoid"
    model = CalibratedClassifierCV(base, method=method, cv=3)
    model.fit(x_tr, y_tr)
    p = model.predict_proba(x_te)[:, 1]
    rate = float(y_tr.mean())
    bins = reliability(y_te, p)
    ece = sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in bins) / max(len(y_te), 1)
    metrics = {
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "positives": positives,
        "base_rate": round(rate, 4),
        "calibration": method,
        "brier": round(float(brier_score_loss(y_te, p)), 5),
        "brier_base_rate": round(float(brier_score_loss(y_te, np.full(len(y_te), rate))), 5),
        "auc": round(float(roc_auc_score(y_te, p)), 4) if len(set(y_te)) == 2 else None,
        "ece": round(float(ece), 4),
        "mean_predicted": round(float(p.mean()), 4),
        "observed_rate": round(float(y_te.mean()), 4),
        "reliability": bins,
    }
    return Fitted(model=model, features=list(x.columns), metrics=metrics)


def _feature_columns(target: Target, source: str) -> list[str]:
    drop = set(target.leaks) if source == "holdings" else set()
    return [c for c in synth.FEATURES if c not in drop]


def training_data(
    session: Session, target_name: str, as_of: date
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """(client frame, labels, source): the control arms of campaigns on the target that have
    ended, if there are enough rows; else every client, labelled by holding the product."""
    target = TARGETS[target_name]
    if target.conversion is not None:
        converted = exists(
            select(Conversion.id).where(
                Conversion.campaign_id == Assignment.campaign_id,
                Conversion.client_id == Assignment.client_id,
                Conversion.kind == target.conversion,
            )
        )
        rows = session.execute(
            select(Assignment.client_id, converted)
            .join(Campaign, Campaign.id == Assignment.campaign_id)
            .where(
                Assignment.arm == "control",
                Campaign.target_indicator == target.conversion,
                Campaign.launched_at.is_not(None),
                or_(Campaign.status == "ended", Campaign.ends_on < as_of),
            )
            .order_by(Assignment.campaign_id, Assignment.client_id)
        ).all()
        labels = np.array([bool(r[1]) for r in rows], dtype=int)
        if len(rows) >= MIN_CAMPAIGN_ROWS and MIN_CLASS <= labels.sum() <= len(rows) - MIN_CLASS:
            ids = [r[0] for r in rows]
            frame = client_frame(session, sorted(set(ids)), as_of=as_of)
            return frame.loc[ids], labels, "campaigns"
    frame = client_frame(session, as_of=as_of)
    holders = set(
        session.scalars(
            select(Holding.client_id).where(
                and_(Holding.kind == target.holding, Holding.status == "active")
            )
        )
    )
    labels = np.array([cid in holders for cid in frame.index], dtype=int)
    return frame, labels, "holdings"


def train(session: Session, target_name: str, as_of: date, *, seed: int = SEED) -> Fitted:
    frame, labels, source = training_data(session, target_name, as_of)
    columns = _feature_columns(TARGETS[target_name], source)
    x = synth.features(frame).loc[:, columns] if len(frame) else pd.DataFrame(columns=columns)
    fitted = fit(x, labels, seed=seed)
    digest = hashlib.sha256()
    digest.update(f"{target_name}|{source}|{seed}|{as_of}".encode())
    digest.update(np.asarray(frame.index, dtype=np.int64).tobytes())
    digest.update(labels.astype(np.int8).tobytes())
    digest.update(np.ascontiguousarray(x.to_numpy(dtype=float)).tobytes())
    fitted.version = f"p-{target_name[:8]}-{digest.hexdigest()[:16]}"
    fitted.source, fitted.target = source, target_name
    return fitted


def score(
    session: Session, target_name: str, candidates: Sequence[int] | None, as_of: date
) -> tuple[dict[int, float], Fitted]:
    """Every candidate's (all clients when None) calibrated propensity, and the model."""
    fitted = train(session, target_name, as_of)
    if candidates is not None and not len(candidates):
        return {}, fitted
    frame = client_frame(session, list(candidates) if candidates is not None else None, as_of)
    if frame.empty:
        return {}, fitted
    p = fitted.predict(frame)
    return {int(cid): float(s) for cid, s in zip(frame.index, p, strict=True)}, fitted
