"""The market's response to a launched campaign, for the demo and tests: what the core systems
would report after the window, written where they report it, so that the product's own
attribution (``campaigns.conversions``), not this simulator, finds the conversions.

``simulate(session, campaign, frame, as_of=, seed=)``: ``frame`` is the ``synth.clients`` frame of
the campaign's clients (with the truth columns), matched by ``client_no``. ``synth.outcomes``
draws each client's response with the real assignment (treated = the treatment arm); then for
every client who converted a new wealth product (the campaign's product, else ``WM-180``) is
opened on a day inside the window with its purchase transaction, and every client's AUM and tier
are set to what the outcome says (a tier only ever goes up).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.marketing import synth
from backend.marketing.models import Assignment, Campaign, Client, Holding, Transaction
from backend.platform.clock import utcnow

DEFAULT_PRODUCT = ("WM-180", "稳享180天理财")


def simulate(
    session: Session,
    campaign: Campaign,
    frame: pd.DataFrame,
    *,
    as_of: date | None = None,
    seed: int = 1,
) -> dict:
    """Write the response (module docstring); returns counts per arm."""
    as_of = min(as_of or date.today(), campaign.ends_on)
    rows = session.execute(
        select(Client.id, Client.client_no, Assignment.arm)
        .join(Assignment, Assignment.client_id == Client.id)
        .where(Assignment.campaign_id == campaign.id)
        .order_by(Client.id)
    ).all()
    by_no = frame.set_index("client_no")
    rows = [r for r in rows if r.client_no in by_no.index]
    if not rows:
        return {"clients": 0}
    sub = by_no.loc[[r.client_no for r in rows]].reset_index()
    treated = np.array([r.arm == "treatment" for r in rows])
    out = synth.outcomes(sub, treated, seed=seed)
    rng = np.random.default_rng(seed + 1)
    span = max((as_of - campaign.starts_on).days, 0)
    code = campaign.product_code or DEFAULT_PRODUCT[0]
    name = DEFAULT_PRODUCT[1] if code == DEFAULT_PRODUCT[0] else code
    now = utcnow()
    holdings, txns = [], []
    counts = {
        "treatment": 0,
        "control": 0,
        "converted_treatment": 0,
        "converted_control": 0,
        "tier_up_treatment": 0,
        "tier_up_control": 0,
    }
    for i, r in enumerate(rows):
        counts[r.arm] += 1
        if out["tier_up"].iat[i]:
            counts[f"tier_up_{r.arm}"] += 1
        if not out["converted"].iat[i]:
            continue
        counts[f"converted_{r.arm}"] += 1
        opened = campaign.starts_on + timedelta(days=int(rng.integers(0, span + 1)))
        amount = Decimal(f"{max(float(sub['aum'].iat[i]) * 0.3, 1000.0):.2f}")
        ref = f"SIM{campaign.id}-{r.id}"
        holdings.append(
            {
                "ref": ref,
                "client_id": r.id,
                "kind": "wealth",
                "product_code": code,
                "product_name": name,
                "amount": amount,
                "rate": Decimal("2.60"),
                "opened_on": opened,
                "matures_on": opened + timedelta(days=180),
                "closed_on": None,
                "status": "active",
            }
        )
        txns.append(
            {
                "ref": f"T{ref}",
                "client_id": r.id,
                "at": datetime.combine(opened, time(10), UTC),
                "amount": -amount,
                "kind": "wealth_buy",
                "channel": "app",
                "holding_ref": ref,
            }
        )
    have = set(
        session.scalars(select(Holding.ref).where(Holding.ref.in_([h["ref"] for h in holdings])))
    )
    holdings = [h for h in holdings if h["ref"] not in have]
    txns = [t for t in txns if t["holding_ref"] not in have]
    if holdings:
        session.execute(insert(Holding), holdings)
        session.execute(insert(Transaction), txns)
    for i, r in enumerate(rows):
        client = session.get(Client, r.id)
        client.aum = Decimal(f"{float(out['aum_after'].iat[i]):.2f}")
        after = out["tier_after"].iat[i]
        if synth.TIERS.index(after) > synth.TIERS.index(client.tier):
            client.tier = after
        client.aum_on = as_of
        client.updated_at = now
    session.flush()
    counts["holdings"] = len(holdings)
    return counts


def frame_of_base(session: Session, sizes: dict[int, int] | None = None) -> pd.DataFrame | None:
    """The ``synth.clients`` frames the database's clients were loaded from, regenerated from
    their client numbers (``C<seed mod 1000><position>``) and checked name by name; a cohort
    that does not regenerate exactly is left out; None when none does. A cohort loaded as a
    subset of a larger frame regenerates only with that frame's size: ``sizes`` (seed → n)."""
    names = dict(session.execute(select(Client.client_no, Client.name)).all())
    seeds: dict[int, int] = {}
    for no in names:
        if len(no) == 12 and no.startswith("C") and no[1:].isdigit():
            s, pos = int(no[1:4]), int(no[4:])
            seeds[s] = max(seeds.get(s, -1), pos)
    frames = []
    for s, last in sorted(seeds.items()):
        if last > 2_000_000:
            continue
        frame = synth.clients(max(last + 1, (sizes or {}).get(s, 0)), seed=s)
        frame = frame[frame["client_no"].isin(names)]
        if all(names[no] == nm for no, nm in zip(frame["client_no"], frame["name"], strict=True)):
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None
