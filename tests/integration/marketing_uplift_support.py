"""Campaign results written the way the campaigns helper writes them (campaign, assignments
stratified by tier, conversions), from synthetic clients with planted uplift, for the uplift
and KPI tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import insert, update

from backend.marketing import synth
from backend.marketing.load import load_clients
from backend.marketing.models import Assignment, Campaign, Client, Conversion

AS_OF = date(2026, 6, 1)


def planted_campaign(
    session,
    *,
    n: int,
    seed: int,
    code: str,
    rm_user_ids=(None,),
    control_share: float = 0.25,
    scored: bool = True,
    status: str = "ended",
):
    """A campaign over ``n`` new synthetic clients: arms drawn within each tier, conversions
    (``renewal``) and AUM and tier now drawn by ``synth.outcomes``. Returns (campaign, frame
    with ``client_id``, ``treated`` and the outcome columns)."""
    frame = synth.clients(n, seed=seed)
    ids = load_clients(session, frame, rm_user_ids=rm_user_ids, as_of=AS_OF)
    rng = np.random.default_rng(seed + 1)
    treated = np.zeros(n, bool)
    for tier in synth.TIERS:  # stratified by tier: the control share within each tier
        idx = np.flatnonzero(frame["tier"].to_numpy() == tier)
        rng.shuffle(idx)
        treated[idx[round(control_share * len(idx)) :]] = True
    out = synth.outcomes(frame, treated, seed=seed + 2)
    at = datetime.combine(AS_OF, datetime.min.time(), UTC) + timedelta(hours=9)
    campaign = Campaign(
        code=code,
        name=f"campaign {code}",
        target_indicator="renewal",
        segment_id=None,
        product_code="WM-180",
        script="",
        sms_template="",
        channels=["sms", "call"],
        starts_on=AS_OF,
        ends_on=AS_OF + timedelta(days=30),
        budget=Decimal("100000.00"),
        cost_per_contact=Decimal("1.00"),
        control_share=control_share,
        seed=seed,
        power={},
        status=status,
        created_at=at,
        launched_at=at,
    )
    session.add(campaign)
    session.flush()
    noise = np.random.default_rng(seed + 3).normal(0, 0.02, n)
    session.execute(
        insert(Assignment),
        [
            {
                "campaign_id": campaign.id,
                "client_id": ids[i],
                "arm": "treatment" if treated[i] else "control",
                "stratum": frame["tier"].iat[i],
                "aum_before": Decimal(f"{frame['aum'].iat[i]:.2f}"),
                "score": float(frame["true_uplift"].iat[i] + noise[i]) if scored else None,
                "assigned_at": at,
            }
            for i in range(n)
        ],
    )
    conv = np.flatnonzero(out["converted"].to_numpy() == 1)
    if len(conv):
        session.execute(
            insert(Conversion),
            [
                {
                    "campaign_id": campaign.id,
                    "client_id": ids[i],
                    "arm": "treatment" if treated[i] else "control",
                    "kind": "renewal",
                    "amount": None,
                    "ref": None,
                    "at": at + timedelta(days=10),
                }
                for i in conv
            ],
        )
    session.execute(
        update(Client),
        [
            {
                "id": ids[i],
                "aum": Decimal(f"{out['aum_after'].iat[i]:.2f}"),
                "tier": out["tier_after"].iat[i],
            }
            for i in range(n)
        ],
    )
    session.flush()
    result = frame.assign(client_id=ids, treated=treated)
    for column in ("converted", "aum_after", "tier_after", "tier_up"):
        result[column] = out[column].to_numpy()
    return campaign, result
