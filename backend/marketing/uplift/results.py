"""A campaign's results as one frame: every assignment with its outcome, read from
``mkt_assignments``, ``mkt_conversions`` and the clients (the campaigns helper writes them;
evaluation, the uplift model's training and the KPIs read them here).

One row per (campaign, client): ``campaign_id``, ``client_id``, ``arm``, ``treated``,
``stratum`` (tier at assignment), ``aum_before`` (float, CNY), ``score`` (the list's, may be
NaN), ``assigned_on``, ``converted`` (a conversion of the campaign's target indicator, 0/1),
``tier_up`` (the client's tier now above the stratum, or a ``tier_up`` conversion),
``aum_now`` (the client's AUM now), ``tier``, ``rm_user_id`` (0: none), ``outlet``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.marketing import synth
from backend.marketing.models import Assignment, Campaign, Client, Conversion

COLUMNS = (
    "campaign_id",
    "client_id",
    "arm",
    "treated",
    "stratum",
    "aum_before",
    "score",
    "assigned_on",
    "converted",
    "tier_up",
    "aum_now",
    "tier",
    "rm_user_id",
    "outlet",
)
TIER_INDEX = {tier: i for i, tier in enumerate(synth.TIERS)}


def campaign_results(
    session: Session,
    campaign_ids: Sequence[int],
    *,
    rm_user_id: int | None = None,
) -> pd.DataFrame:
    """The results of the campaigns (only the clients of ``rm_user_id`` when given)."""
    if not campaign_ids:
        return pd.DataFrame(columns=list(COLUMNS))
    stmt = (
        select(
            Assignment.campaign_id,
            Assignment.client_id,
            Assignment.arm,
            Assignment.stratum,
            Assignment.aum_before,
            Assignment.score,
            Assignment.assigned_at,
            Client.aum,
            Client.tier,
            Client.rm_user_id,
            Client.outlet,
        )
        .join(Client, Client.id == Assignment.client_id)
        .where(Assignment.campaign_id.in_(list(campaign_ids)))
        .order_by(Assignment.campaign_id, Assignment.client_id)
    )
    if rm_user_id is not None:
        stmt = stmt.where(Client.rm_user_id == rm_user_id)
    rows = session.execute(stmt).all()
    if not rows:
        return pd.DataFrame(columns=list(COLUMNS))
    frame = pd.DataFrame(
        rows,
        columns=[
            "campaign_id",
            "client_id",
            "arm",
            "stratum",
            "aum_before",
            "score",
            "assigned_at",
            "aum_now",
            "tier",
            "rm_user_id",
            "outlet",
        ],
    )
    targets = dict(
        session.execute(
            select(Campaign.id, Campaign.target_indicator).where(
                Campaign.id.in_(list(campaign_ids))
            )
        ).all()
    )
    conv = session.execute(
        select(Conversion.campaign_id, Conversion.client_id, Conversion.kind).where(
            Conversion.campaign_id.in_(list(campaign_ids))
        )
    ).all()
    converted = {(c, k) for c, k, kind in conv if kind == targets.get(c)}
    tier_up_rows = {(c, k) for c, k, kind in conv if kind == "tier_up"}
    keys = list(zip(frame["campaign_id"], frame["client_id"], strict=True))
    frame["treated"] = frame["arm"] == "treatment"
    frame["converted"] = np.fromiter((k in converted for k in keys), bool, len(keys)).astype(int)
    stratum_idx = frame["stratum"].map(TIER_INDEX).fillna(-1).to_numpy()
    tier_idx = frame["tier"].map(TIER_INDEX).fillna(-1).to_numpy()
    frame["tier_up"] = (
        np.fromiter((k in tier_up_rows for k in keys), bool, len(keys))
        | ((stratum_idx >= 0) & (tier_idx > stratum_idx))
    ).astype(int)
    frame["aum_before"] = pd.to_numeric(frame["aum_before"], errors="coerce").astype(float)
    frame["aum_now"] = pd.to_numeric(frame["aum_now"], errors="coerce").astype(float)
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype(float)
    frame["assigned_on"] = [a.date() for a in frame["assigned_at"]]
    frame["rm_user_id"] = frame["rm_user_id"].fillna(0).astype(int)
    return frame.loc[:, list(COLUMNS)]
