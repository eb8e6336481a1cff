"""Model lists on both databases: with no campaign ended, the propensity model learns from
holdings (who holds a wealth product, the giveaway features dropped); once a renewal campaign
has ended, from its control arm (the no-contact outcome). Freezing the list stores the
members with their scores and tags them with the model's tag and version; ``where`` limits
the candidates, ``min_score`` cuts by score."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import insert, select

from backend.marketing import synth
from backend.marketing.load import load_clients
from backend.marketing.models import (
    Assignment,
    Campaign,
    Client,
    ClientTag,
    Conversion,
    SegmentMember,
)
from backend.marketing.segments import propensity, queries, service
from backend.platform.context import Actor
from backend.platform.errors import Conflict, PermissionDenied

AS_OF = date(2026, 6, 1)
TEAM = Actor(user_id=None, username="mkt-test", role="marketing", org_id=None)


def _ended_renewal_campaign(session, frame, ids) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    campaign = Campaign(
        code="RENEW-TEST",
        name="renewal test",
        target_indicator="renewal",
        segment_id=None,
        product_code="WM-180",
        script="",
        sms_template="",
        channels=["sms"],
        starts_on=date(2026, 4, 1),
        ends_on=date(2026, 4, 30),
        budget=Decimal("1000.00"),
        cost_per_contact=Decimal("0.10"),
        control_share=0.25,
        seed=1,
        power={},
        status="ended",
        launched_at=now,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    outcome = synth.outcomes(frame, np.zeros(len(frame), bool), seed=4)["converted"].to_numpy()
    session.execute(
        insert(Assignment),
        [
            {
                "campaign_id": campaign.id,
                "client_id": cid,
                "arm": "control",
                "stratum": frame["tier"].iloc[i],
                "aum_before": None,
                "score": None,
                "assigned_at": now,
            }
            for i, cid in enumerate(ids)
        ],
    )
    session.execute(
        insert(Conversion),
        [
            {
                "campaign_id": campaign.id,
                "client_id": cid,
                "arm": "control",
                "kind": "renewal",
                "amount": None,
                "ref": None,
                "at": now,
            }
            for i, cid in enumerate(ids)
            if outcome[i]
        ],
    )
    session.commit()


def test_propensity_lists_from_holdings_then_from_campaigns(session):
    frame = synth.clients(1500, seed=41)
    ids = load_clients(session, frame, as_of=AS_OF)
    session.commit()
    definition = {"model": "propensity", "target": "renewal", "top": 100}

    before = queries.preview(session, TEAM, definition, as_of=AS_OF)
    assert before.kind == "model" and before.size == 100
    assert before.model["source"] == "holdings"
    assert before.model["metrics"]["auc"] > 0.5  # richer clients hold wealth products

    _ended_renewal_campaign(session, frame, ids)
    after = queries.preview(session, TEAM, definition, as_of=AS_OF)
    assert after.model["source"] == "campaigns"
    metrics = after.model["metrics"]
    assert metrics["n_train"] + metrics["n_test"] == 1500
    assert 0 <= metrics["brier"] <= metrics["brier_base_rate"] + 0.01

    segment = service.create_segment(session, TEAM, name="renewal top 100", definition=definition)
    result = service.freeze_segment(session, TEAM, segment.id, as_of=AS_OF)
    session.commit()
    assert result.size == 100 and result.tagged == 100
    assert result.model["version"] == after.model["version"]  # the same data: the same model
    rows = session.execute(
        select(SegmentMember.client_id, SegmentMember.score).where(
            SegmentMember.segment_id == segment.id
        )
    ).all()
    assert len(rows) == 100 and all(0.0 <= s <= 1.0 for _, s in rows)
    tags = session.execute(
        select(ClientTag.client_id, ClientTag.source, ClientTag.version, ClientTag.score).where(
            ClientTag.tag == "propensity_renewal"
        )
    ).all()
    assert {t[0] for t in tags} == {r[0] for r in rows}
    assert {t[1] for t in tags} == {"model"} and {t[2] for t in tags} == {result.model["version"]}
    # the list is the top of the scores: everyone left out scores no higher
    floor = min(s for _, s in rows)
    scores, _ = propensity.score(session, "renewal", None, AS_OF)
    outside = [s for cid, s in scores.items() if cid not in {r[0] for r in rows}]
    assert max(outside) <= floor + 1e-12

    # a rule may narrow the candidates; a cut instead of a count
    where = {"field": "tier", "op": "==", "value": "affluent"}
    narrowed = queries.preview(
        session,
        TEAM,
        {"model": "propensity", "target": "renewal", "min_score": 0.0, "where": where},
        as_of=AS_OF,
    )
    assert narrowed.size == int((frame["tier"] == "affluent").sum())
    assert narrowed.by_tier == {"mass": 0, "affluent": narrowed.size, "wealth": 0, "private": 0}
    # the frozen list shows in the overlap of the next preview
    overlap = {o["segment_id"]: o for o in narrowed.overlap}[segment.id]
    assert overlap["frozen"] and overlap["size"] == 100
    affluent = set(session.scalars(select(Client.id).where(Client.tier == "affluent")))
    assert overlap["overlap"] == len(affluent & {r[0] for r in rows})


def test_a_model_list_created_with_its_members_is_those_members(session):
    """The uplift part creates its lists with members frozen (its scorer need not be known
    here): overlap, freeze and export read the members, nothing is scored."""
    from backend.marketing.models import Segment

    ids = load_clients(session, synth.clients(40, seed=43), as_of=AS_OF)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    listed = Segment(
        name="uplift top 3",
        kind="model",
        definition={"model": "uplift", "model_id": 1, "top": 3},
        size=None,
        sized_at=None,
        created_at=now,
    )
    session.add(listed)
    session.flush()
    session.execute(
        insert(SegmentMember),
        [{"segment_id": listed.id, "client_id": cid, "score": 0.1} for cid in ids[:3]],
    )
    session.commit()
    preview = queries.preview(session, TEAM, {"field": "age", "op": ">=", "value": 0}, as_of=AS_OF)
    (row,) = preview.overlap
    assert row["frozen"] and row["size"] == 3 and row["overlap"] == 3
    assert row["jaccard"] == round(3 / 40, 4)
    detail = queries.segment_detail(session, TEAM, listed.id)
    assert detail.frozen
    # an export needs a person on its record (the API's are; a system actor is refused)
    with pytest.raises(PermissionDenied) as refused:
        service.export_segment(session, TEAM, listed.id, purpose="uplift pilot list")
    assert refused.value.code == "export_needs_user"
    with pytest.raises(Conflict) as frozen:  # frozen by its maker
        service.freeze_segment(session, TEAM, listed.id, as_of=AS_OF)
    assert frozen.value.code == "segment_frozen"
