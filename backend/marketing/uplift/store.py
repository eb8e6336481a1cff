"""Uplift models retrained on campaign results (``mkt_uplift_models``) and the lists they pick
(docs/marketing.md "Uplift model").

``train`` reads the launched and ended campaigns' assignments (the arm), the clients'
features as of the day of assignment (``load.client_frame``; AUM and tier are the assignment's
own, ``aum_before`` and ``stratum``, so growth the campaign caused does not leak into the
features) and the conversions of each campaign's target indicator; holds out a share of the
clients (stratified by arm), fits the meta-learners (``learners``), measures each one's
Qini/AUUC against random targeting on the held-out clients and stores the best (or the one
asked for) with those metrics and its pickled artifact (SHA-256 checked on load). The first
model is the champion, later ones challengers until promoted (audited).

``score_clients`` predicts the uplift of clients with the champion (or a given model);
``make_list`` freezes the top k clients by predicted uplift as a segment of kind ``model``
(``{"model": "uplift", "model_id": N, "top": k}``) with the scores in
``mkt_segment_members``: the next campaign's list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, defer

from backend.marketing import access, synth
from backend.marketing.load import client_frame
from backend.marketing.models import Campaign, Client, Segment, SegmentMember, UpliftModel
from backend.marketing.uplift import evaluate, learners
from backend.marketing.uplift.results import TIER_INDEX, campaign_results
from backend.platform import artifacts, audit
from backend.platform.artifacts import ArtifactCache
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from backend.platform.pagination import Page, paginate

STATUSES = ("champion", "challenger", "retired")
METHODS = ("best", *learners.METHODS)
MIN_PER_ARM = 30  # training clients per arm, at least
MAX_TOP = 1_000_000
SCORE_CHUNK = 20_000  # ids per query: under SQLite's 32,766 bound parameters

_cache = ArtifactCache("uplift model artifact")


def dumps(model) -> tuple[bytes, str]:
    return artifacts.dumps(model)


def load(row: UpliftModel):
    return _cache.load(row.id, row.artifact_sha256, row.artifact)


# --------------------------------------------------------------------------- training data


def features_of(session: Session, results: pd.DataFrame) -> pd.DataFrame:
    """The model inputs (``synth.features``) of each result row, as of its assignment day,
    with the assignment's AUM and tier; rows in the order of ``results``."""
    parts = []
    for day, group in results.groupby("assigned_on", sort=False):
        ids = group["client_id"].unique().tolist()
        frame = pd.concat(
            [
                client_frame(session, ids[i : i + SCORE_CHUNK], as_of=day)
                for i in range(0, len(ids), SCORE_CHUNK)
            ]
        )
        part = frame.reindex(group["client_id"].to_numpy())
        part.index = group.index
        parts.append(part)
    frame = pd.concat(parts).loc[results.index]
    before = results["aum_before"]
    frame["aum"] = before.where(before.notna(), frame["aum"])
    strata = results["stratum"].map(TIER_INDEX)
    frame["tier_idx"] = strata.where(strata.notna(), frame["tier_idx"])
    return synth.features(frame)


def training_data(
    session: Session, campaign_codes: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(results, features, campaign codes) of the launched and ended campaigns (or those
    named)."""
    stmt = select(Campaign.id, Campaign.code).where(Campaign.status.in_(("launched", "ended")))
    if campaign_codes:
        stmt = select(Campaign.id, Campaign.code).where(Campaign.code.in_(list(campaign_codes)))
    found = session.execute(stmt.order_by(Campaign.id)).all()
    if campaign_codes:
        missing = sorted(set(campaign_codes) - {code for _id, code in found})
        if missing:
            raise NotFound(
                f"no campaign {', '.join(missing)}",
                code="campaign_not_found",
                details={"campaigns": missing},
            )
    results = campaign_results(session, [cid for cid, _code in found])
    if results.empty:
        return results, pd.DataFrame(columns=list(synth.FEATURES)), [c for _i, c in found]
    results = results.reset_index(drop=True)
    return results, features_of(session, results), [code for _id, code in found]


def _split(treated: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A held-out mask, ``share`` of each arm."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(treated), bool)
    for arm in (True, False):
        idx = np.flatnonzero(treated == arm)
        rng.shuffle(idx)
        held[idx[: round(share * len(idx))]] = True
    return held


def _metrics(y, t, score) -> dict:
    qini = evaluate.qini_curve(y, t, score, points=21)
    top = evaluate.uplift_at_k(y, t, score, 0.3)
    return {
        "auuc": qini["auuc"],
        "random_auuc": qini["random_auuc"],
        "auuc_ratio": qini["auuc_ratio"],
        "qini_coefficient": qini["qini_coefficient"],
        "uplift_at_30pct": top["uplift"],
        "qini": {"x": qini["x"], "qini": qini["qini"], "random": qini["random"]},
    }


def fit_and_compare(
    x: pd.DataFrame,
    treated: np.ndarray,
    converted: np.ndarray,
    *,
    method: str = "best",
    holdout: float = 0.3,
    seed: int = 0,
    control_share: float | None = None,
) -> tuple[object, dict]:
    """Fit the learner(s) on the training part, measure on the held-out part; the chosen
    model (best held-out AUUC, or ``method``) and the metrics."""
    if method not in METHODS:
        raise ValidationFailed(
            f"method is one of {', '.join(METHODS)}", details={"method": list(METHODS)}
        )
    treated = np.asarray(treated, bool)
    converted = np.asarray(converted, int)
    held = _split(treated, holdout, seed)
    train_t = treated[~held]
    if train_t.sum() < MIN_PER_ARM or (~train_t).sum() < MIN_PER_ARM or held.sum() < 2:
        raise BusinessRuleViolation(
            f"too few campaign results to train on: at least {MIN_PER_ARM} training clients "
            "per arm",
            code="not_enough_results",
            details={"treatment": int(train_t.sum()), "control": int((~train_t).sum())},
        )
    share = float((~treated).mean()) if control_share is None else control_share
    methods = learners.METHODS if method == "best" else (method,)
    compared, fitted = {}, {}
    for name in methods:
        model = learners.make(name, synth.FEATURES, seed=seed)
        model.fit(x[~held], treated[~held], converted[~held], control_share=share)
        fitted[name] = model
        compared[name] = _metrics(converted[held], treated[held], model.predict(x[held]))
    chosen = max(methods, key=lambda m: compared[m]["auuc"])
    metrics = {
        "held_out": compared[chosen],
        "compared": {m: {k: v for k, v in c.items() if k != "qini"} for m, c in compared.items()},
        "n_train": int((~held).sum()),
        "n_held_out": int(held.sum()),
        "holdout_share": holdout,
        "control_share": share,
        "seed": seed,
        "chosen_by": "best held-out AUUC" if method == "best" else "asked",
    }
    return fitted[chosen], metrics


# --------------------------------------------------------------------------- the registry


def _champion(session: Session, *, lock: bool = False) -> UpliftModel | None:
    stmt = (
        select(UpliftModel)
        .options(defer(UpliftModel.artifact))
        .where(UpliftModel.status == "champion")
        .order_by(UpliftModel.id.desc())
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def _make_champion(session: Session, actor: Actor, model: UpliftModel) -> None:
    current = _champion(session, lock=True)
    if current is not None and current.id == model.id:
        return
    if current is not None:
        current.status = "retired"
    model.status = "champion"
    session.flush()
    audit.record(
        session,
        actor,
        "marketing.uplift_model_promoted",
        "mkt_uplift_model",
        model.id,
        before={"champion_id": current.id if current is not None else None},
        after={"champion_id": model.id, "version": model.version},
    )


def register(
    session: Session,
    actor: Actor,
    model,
    metrics: dict,
    trained_on: list[str],
    *,
    status: str | None = None,
) -> UpliftModel:
    """Store a fitted learner as the next version: champion if there is none (or asked),
    else challenger. Audited."""
    access.ensure_team(actor)
    if status not in (None, "champion", "challenger"):
        raise ValidationFailed("status is champion or challenger", details={"status": [status]})
    blob, sha = dumps(model)
    version = (session.scalar(select(func.max(UpliftModel.version))) or 0) + 1
    row = UpliftModel(
        version=version,
        method=model.method,
        status="challenger",
        trained_on=list(trained_on),
        features=list(model.features),
        metrics=metrics,
        artifact=blob,
        artifact_sha256=sha,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "marketing.uplift_model_trained",
        "mkt_uplift_model",
        row.id,
        after={
            "version": version,
            "method": model.method,
            "trained_on": list(trained_on),
            "auuc_ratio": metrics.get("held_out", {}).get("auuc_ratio"),
            "sha256": sha,
        },
    )
    if status == "champion" or (status is None and _champion(session) is None):
        _make_champion(session, actor, row)
    _cache.put(row.id, sha, model)
    return row


def train(
    session: Session,
    actor: Actor,
    *,
    campaign_codes: Sequence[str] | None = None,
    method: str = "best",
    holdout: float = 0.3,
    seed: int = 0,
    status: str | None = None,
) -> UpliftModel:
    """Train on the campaigns' results and register the model (module docstring)."""
    access.ensure_team(actor)
    if not 0.05 <= holdout <= 0.5:
        raise ValidationFailed("holdout is between 0.05 and 0.5", details={"holdout": [holdout]})
    results, x, codes = training_data(session, campaign_codes)
    if results.empty:
        raise BusinessRuleViolation(
            "no campaign results to train on", code="not_enough_results", details={}
        )
    model, metrics = fit_and_compare(
        x,
        results["treated"].to_numpy(bool),
        results["converted"].to_numpy(int),
        method=method,
        holdout=holdout,
        seed=seed,
    )
    metrics["campaigns"] = codes
    return register(session, actor, model, metrics, codes, status=status)


def get_model(session: Session, actor: Actor, model_id: int) -> UpliftModel:
    access.ensure_team(actor)
    row = session.get(UpliftModel, model_id)
    if row is None:
        raise NotFound("uplift model not found", code="uplift_model_not_found")
    return row


def list_models(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    access.ensure_team(actor)
    stmt = select(UpliftModel).options(defer(UpliftModel.artifact))
    if status:
        stmt = stmt.where(UpliftModel.status == status)
    return paginate(session, stmt, UpliftModel.id, limit=limit, cursor=cursor, descending=True)


def promote(session: Session, actor: Actor, model_id: int) -> UpliftModel:
    """The marketing team makes a model the champion; the old one is retired (audited)."""
    access.ensure_team(actor)
    row = session.get(UpliftModel, model_id, with_for_update=True)
    if row is None:
        raise NotFound("uplift model not found", code="uplift_model_not_found")
    load(row)  # a broken artifact never becomes champion
    _make_champion(session, actor, row)
    return row


# --------------------------------------------------------------------------- scoring, lists


def score_clients(
    session: Session, client_ids: Sequence[int], model: UpliftModel | None = None
) -> dict[int, float]:
    """Predicted uplift of each client (the champion's unless ``model``); clients that do not
    exist are left out."""
    row = model or _champion(session)
    if row is None:
        raise BusinessRuleViolation("no uplift model yet", code="no_uplift_model")
    learner = load(row)
    out: dict[int, float] = {}
    ids = list(dict.fromkeys(int(i) for i in client_ids))
    for start in range(0, len(ids), SCORE_CHUNK):
        frame = client_frame(session, ids[start : start + SCORE_CHUNK])
        if frame.empty:
            continue
        scores = learner.predict(synth.features(frame))
        out.update(zip((int(i) for i in frame.index), (float(s) for s in scores), strict=True))
    return out


def make_list(
    session: Session, actor: Actor, model_id: int, *, name: str, top: int
) -> tuple[Segment, int]:
    """Freeze the ``top`` clients by the model's predicted uplift as a segment of kind
    ``model`` (members with their scores). Returns the segment and its size."""
    access.ensure_team(actor)
    row = get_model(session, actor, model_id)
    if not 1 <= top <= MAX_TOP:
        raise ValidationFailed(f"top is between 1 and {MAX_TOP}", details={"top": [top]})
    if session.scalar(select(Segment.id).where(Segment.name == name)) is not None:
        raise Conflict("a segment of that name exists", code="segment_name_taken")
    ids = list(session.scalars(select(Client.id).order_by(Client.id)))
    scores = score_clients(session, ids, row)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    now = utcnow()
    segment = Segment(
        name=name,
        kind="model",
        definition={"model": "uplift", "model_id": row.id, "top": top},
        size=len(ranked),
        sized_at=now,
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    session.add(segment)
    session.flush()
    if ranked:
        session.execute(
            insert(SegmentMember),
            [{"segment_id": segment.id, "client_id": c, "score": s} for c, s in ranked],
        )
    audit.record(
        session,
        actor,
        "marketing.uplift_list_created",
        "mkt_segment",
        segment.id,
        after={
            "name": name,
            "model_id": row.id,
            "model_version": row.version,
            "top": top,
            "size": len(ranked),
        },
    )
    session.flush()
    return segment, len(ranked)
