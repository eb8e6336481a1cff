"""The uplift model retrained on campaign results (assignments, conversions and the clients'
features as of assignment), stored with its held-out metrics and checksum, promoted with an
audit record, scoring clients and freezing the next list; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from backend.marketing.models import Segment, SegmentMember, UpliftModel
from backend.marketing.uplift import store
from backend.platform.audit import AuditRecord
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
)
from tests.integration.marketing_uplift_support import planted_campaign

TEAM = Actor(user_id=None, username="mkt-test", role="marketing", org_id=None)
RM = Actor(user_id=None, username="rm-test", role="rm", org_id=None)


def test_train_score_promote_and_list(session):
    _c, truth = planted_campaign(session, n=4_000, seed=31, code="RENEW-A")
    session.commit()

    with pytest.raises(PermissionDenied):
        store.train(session, RM)
    first = store.train(session, TEAM, seed=1)
    session.commit()
    assert first.status == "champion" and first.version == 1 and first.trained_on == ["RENEW-A"]
    held = first.metrics["held_out"]
    assert first.metrics["n_held_out"] == 1_200 and first.metrics["n_train"] == 2_800
    assert held["auuc"] > held["random_auuc"] > 0  # beats random targeting on held-out clients
    assert set(first.metrics["compared"]) == {"t_learner", "x_learner", "s_learner"}
    assert len(held["qini"]["x"]) == 21

    # the champion's scores rank the clients by their planted uplift
    scores = store.score_clients(session, truth["client_id"].tolist())
    assert len(scores) == 4_000
    s = np.array([scores[i] for i in truth["client_id"]])
    assert np.corrcoef(s, truth["true_uplift"])[0, 1] > 0.4

    second = store.train(session, TEAM, method="t_learner", seed=2)
    session.commit()
    assert second.status == "challenger" and second.method == "t_learner"
    store.promote(session, TEAM, second.id)
    session.commit()
    session.refresh(first)
    assert (first.status, second.status) == ("retired", "champion")
    actions = session.scalars(
        select(AuditRecord.action).where(AuditRecord.object_type == "mkt_uplift_model")
    ).all()
    assert actions.count("marketing.uplift_model_promoted") == 2
    assert actions.count("marketing.uplift_model_trained") == 2

    segment, size = store.make_list(session, TEAM, first.id, name="uplift top 400", top=400)
    session.commit()
    assert size == 400 and segment.kind == "model"
    assert segment.definition == {"model": "uplift", "model_id": first.id, "top": 400}
    members = dict(
        session.execute(
            select(SegmentMember.client_id, SegmentMember.score).where(
                SegmentMember.segment_id == segment.id
            )
        ).all()
    )
    assert len(members) == 400
    cut = min(members.values())
    assert all(scores[c] <= cut + 1e-12 for c in scores if c not in members)
    picked = truth["client_id"].isin(list(members))
    assert truth.loc[picked, "true_uplift"].mean() > 1.5 * truth["true_uplift"].mean()

    with pytest.raises(Conflict):
        store.make_list(session, TEAM, first.id, name="uplift top 400", top=10)
    session.rollback()
    with pytest.raises(NotFound):
        store.make_list(session, TEAM, 2**62, name="x", top=10)
    with pytest.raises(PermissionDenied):
        store.make_list(session, RM, first.id, name="rm list", top=10)
    assert session.scalar(select(func.count()).select_from(Segment)) == 1


def test_a_tampered_artifact_is_refused_and_too_little_data_is_422(session):
    with pytest.raises(BusinessRuleViolation) as info:
        store.train(session, TEAM)
    assert info.value.code == "not_enough_results"
    planted_campaign(session, n=120, seed=32, code="TINY")
    session.commit()
    with pytest.raises(BusinessRuleViolation):
        store.train(session, TEAM)
    with pytest.raises(NotFound):
        store.train(session, TEAM, campaign_codes=["NOPE"])
    session.rollback()
    planted_campaign(session, n=1_000, seed=33, code="SMALL")
    session.commit()
    row = store.train(session, TEAM, campaign_codes=["SMALL"], method="x_learner")
    session.commit()
    row.artifact = row.artifact[:-1] + bytes([row.artifact[-1] ^ 1])
    row.artifact_sha256 = row.artifact_sha256  # the stored checksum no longer matches
    session.commit()
    store._cache.clear()
    with pytest.raises(ValueError, match="checksum"):
        store.score_clients(session, [1])
    assert session.scalar(select(func.count()).select_from(UpliftModel)) == 1
