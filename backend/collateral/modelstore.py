"""The AVM model registry (``col_models``): every trained model with its version, training
data hash, feature spec and held-out metrics; one champion values every request, challengers
wait beside it, the rest are retired.

Artifacts are pickled and checked against their SHA-256 on load (as the risk area's
classifier is: ``backend/risk/ml/classifier.py``); a loaded champion is cached per process by
``(id, sha256)``, so promoting another model (a new id) is seen by the next request.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from backend.collateral.avm import TrainedAVM
from backend.collateral.models import AvmModel
from backend.platform import artifacts, audit
from backend.platform.artifacts import ArtifactCache
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import NotFound, ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role

STATUSES = ("champion", "challenger", "retired")
READERS = ("rm", "approver", "admin")

_cache = ArtifactCache("model artifact")


def dumps(trained: TrainedAVM) -> tuple[bytes, str]:
    return artifacts.dumps(trained)


def load(model: AvmModel) -> TrainedAVM:
    """The model's trained AVM, from the process cache or its verified artifact."""
    return _cache.load(model.id, model.artifact_sha256, model.artifact)


def register(
    session: Session, actor: Actor, trained: TrainedAVM, *, status: str | None = None
) -> AvmModel:
    """Store a trained model as the next version. ``status`` champion (the old champion is
    retired), challenger, or None: champion when there is none yet, else challenger."""
    if status not in (None, "champion", "challenger"):
        raise ValidationFailed(
            "status is champion or challenger", details={"status": ["champion or challenger"]}
        )
    current = _champion_row(session, lock=True)
    if status is None:
        status = "champion" if current is None else "challenger"
    blob, sha = dumps(trained)
    version = (session.scalar(select(func.max(AvmModel.version))) or 0) + 1
    now = utcnow()
    model = AvmModel(
        version=version,
        method="ensemble",
        status="challenger",
        data_hash=trained.data_hash,
        trained_rows=trained.trained_rows,
        feature_spec={**trained.feature_spec, "coverage": trained.coverage},
        metrics=trained.metrics,
        artifact=blob,
        artifact_sha256=sha,
        trained_by=actor.username,
        trained_at=now,
        promoted_at=None,
    )
    session.add(model)
    session.flush()
    audit.record(
        session,
        actor,
        "collateral.model_registered",
        "col_model",
        model.id,
        after={"version": version, "data_hash": trained.data_hash, "status": status},
    )
    if status == "champion":
        _make_champion(session, actor, model, current)
    _cache.put(model.id, sha, trained)
    return model


def _champion_row(session: Session, *, lock: bool = False) -> AvmModel | None:
    stmt = (
        select(AvmModel)
        .options(defer(AvmModel.artifact))  # read only when the process has not cached it
        .where(AvmModel.status == "champion")
        .order_by(AvmModel.id.desc())
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def _make_champion(session, actor, model: AvmModel, current: AvmModel | None) -> None:
    if current is not None and current.id != model.id:
        current.status = "retired"
    before = {"champion_id": current.id if current is not None else None}
    model.status = "champion"
    model.promoted_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "collateral.model_promoted",
        "col_model",
        model.id,
        before=before,
        after={"champion_id": model.id, "version": model.version},
    )


def champion(session: Session) -> tuple[AvmModel, TrainedAVM] | None:
    """The champion row and its loaded model, or None when there is no model yet."""
    model = _champion_row(session)
    if model is None:
        return None
    return model, load(model)


def promote(session: Session, actor: Actor, model_id: int) -> AvmModel:
    """Admin: make a model the champion; the old champion is retired (audited)."""
    ensure_role(actor, "admin")
    model = session.get(AvmModel, model_id, with_for_update=True)
    if model is None:
        raise NotFound("model not found", code="model_not_found")
    load(model)  # a broken artifact never becomes champion
    if model.status != "champion":
        _make_champion(session, actor, model, _champion_row(session, lock=True))
    return model


def list_models(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_role(actor, *READERS)
    stmt = select(AvmModel).options(defer(AvmModel.artifact))
    if status:
        stmt = stmt.where(AvmModel.status == status)
    return paginate(session, stmt, AvmModel.id, limit=limit, cursor=cursor, descending=True)


def get_model(session: Session, actor: Actor, model_id: int) -> AvmModel:
    ensure_role(actor, *READERS)
    model = session.get(AvmModel, model_id)
    if model is None:
        raise NotFound("model not found", code="model_not_found")
    return model
