"""A campaign's evaluation, read side (``GET /api/v1/marketing/campaigns/{id}/evaluation``).

From ``mkt_assignments`` and ``mkt_conversions`` (``results.campaign_results``): per arm
counts and conversion rates, the uplift with Newcombe's 95% interval, the Qini curve (101
points) and AUUC against random targeting over the list's scores (``Assignment.score``; left
out when the list had none), uplift at 10/20/30/50%, AUM growth against control (per arm the
AUM at assignment and now; the mean per-client growth difference with Welch's interval),
tier-up per arm with the ratio (Katz interval); and the same rates and uplift per tier
stratum.

Who sees what: the marketing team and admins the whole campaign; a relationship manager the
same figures computed over **their own clients only** (``scope: "own_clients"``; the other
RMs' clients are not counted, so nothing about them leaks); anyone else 403.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from backend.marketing import access, synth
from backend.marketing.models import Campaign
from backend.marketing.uplift import evaluate
from backend.marketing.uplift.results import campaign_results
from backend.platform.context import Actor
from backend.platform.errors import NotFound

K_LEVELS = (0.1, 0.2, 0.3, 0.5)


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    return campaign


def _money(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


def _aum(frame: pd.DataFrame) -> dict:
    out = {}
    for arm, mask in (("treatment", frame["treated"]), ("control", ~frame["treated"])):
        part = frame[mask & frame["aum_before"].notna()]
        before, now = float(part["aum_before"].sum()), float(part["aum_now"].sum())
        out[arm] = {
            "n": len(part),
            "aum_before": _money(before),
            "aum_now": _money(now),
            "growth": (now / before - 1.0) if before > 0 else None,
        }
    valid = frame[frame["aum_before"].notna() & (frame["aum_before"] > 0)]
    growth = (valid["aum_now"] / valid["aum_before"] - 1.0).to_numpy()
    t = valid["treated"].to_numpy(bool)
    out["mean_growth_difference"] = evaluate.mean_difference(growth[t], growth[~t])
    return out


def _arms(frame: pd.DataFrame) -> dict:
    y = frame["converted"].to_numpy(float)
    t = frame["treated"].to_numpy(bool)
    return {"arms": evaluate.arm_rates(y, t), "uplift": evaluate.uplift_interval(y, t)}


def evaluate_frame(frame: pd.DataFrame) -> dict:
    """Every figure of the module docstring for a results frame."""
    out = _arms(frame)
    y = frame["converted"].to_numpy(float)
    t = frame["treated"].to_numpy(bool)
    scored = frame["score"].notna().to_numpy()
    if scored.sum() >= 2 and t[scored].any() and (~t[scored]).any():
        s = frame["score"].to_numpy(float)[scored]
        out["qini"] = evaluate.qini_curve(y[scored], t[scored], s)
        out["uplift_at_k"] = [evaluate.uplift_at_k(y[scored], t[scored], s, k) for k in K_LEVELS]
    else:
        out["qini"] = None
        out["uplift_at_k"] = []
    out["aum_growth"] = _aum(frame)
    out["tier_up"] = evaluate.tier_up(frame["tier_up"].to_numpy(float), t)
    out["by_tier"] = [
        {"tier": tier, **_arms(frame[frame["stratum"] == tier])}
        for tier in synth.TIERS
        if (frame["stratum"] == tier).any()
    ]
    return out


def campaign_evaluation(session: Session, actor: Actor, campaign_id: int) -> dict:
    access.ensure_reader(actor)
    campaign = get_campaign(session, campaign_id)
    own = not access.is_team(actor)
    frame = campaign_results(session, [campaign.id], rm_user_id=actor.user_id if own else None)
    if own and actor.user_id is None:
        frame = frame.iloc[0:0]
    body = {
        "campaign_id": campaign.id,
        "code": campaign.code,
        "target_indicator": campaign.target_indicator,
        "status": campaign.status,
        "control_share": campaign.control_share,
        "scope": "own_clients" if own else "all",
        "clients": len(frame),
    }
    if frame.empty:
        empty = evaluate_frame(
            pd.DataFrame(
                {
                    "converted": np.zeros(0),
                    "treated": np.zeros(0, bool),
                    "score": np.zeros(0),
                    "aum_before": np.zeros(0),
                    "aum_now": np.zeros(0),
                    "tier_up": np.zeros(0),
                    "stratum": np.zeros(0, object),
                }
            )
        )
        return {**body, **empty}
    return {**body, **evaluate_frame(frame)}
