"""Conversions (job ``marketing.conversions``, daily): what the core systems report —
holdings and the client's AUM and tier — attributed to both arms of every campaign within its
window (the control group is measured exactly as the treated one, so the difference is the
campaign's effect):

- ``renewal``: a new wealth product or time deposit (the campaign's product when it names one)
  opened in the window; amount its balance, ref the holding;
- ``purchase``: the campaign's product opened in the window;
- ``tier_up``: the client's tier now above their stratum (the tier at assignment);
- ``aum_growth``: the client's AUM now above their AUM at assignment; amount the growth (kept
  current while the window is open: a client whose AUM fell back to or below it loses the row).

Idempotent: one row per (campaign, client, kind) (the unique constraint); a rerun adds only
what is new. Campaigns ended up to ``GRACE_DAYS`` ago are still attributed (late feeds).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.marketing.contact import POLICY
from backend.marketing.models import Assignment, Campaign, Client, Conversion, Holding
from backend.marketing.synth import TIERS

GRACE_DAYS = 7
RENEWAL_KINDS = ("wealth", "time")


def _tier(t: str) -> int:
    return TIERS.index(t) if t in TIERS else -1


def attribute(session: Session, campaign: Campaign, now: datetime) -> dict:
    today = POLICY.local(now).date()
    end = min(campaign.ends_on, today)
    start = campaign.starts_on
    if end < start:
        return {}
    assigned = {
        cid: (arm, stratum, aum_before)
        for cid, arm, stratum, aum_before in session.execute(
            select(
                Assignment.client_id, Assignment.arm, Assignment.stratum, Assignment.aum_before
            ).where(Assignment.campaign_id == campaign.id)
        )
    }
    if not assigned:
        return {}
    existing = {
        (cid, kind): row
        for cid, kind, row in (
            (r.client_id, r.kind, r)
            for r in session.scalars(
                select(Conversion).where(Conversion.campaign_id == campaign.id)
            )
        )
    }
    ids = sorted(assigned)
    new: list[Conversion] = []
    updated = removed = 0

    def add(cid: int, kind: str, amount, ref, at: datetime) -> None:
        nonlocal updated
        row = existing.get((cid, kind))
        if row is not None:
            if kind == "aum_growth" and row.amount != amount:
                row.amount = amount
                updated += 1
            return
        row = Conversion(
            campaign_id=campaign.id,
            client_id=cid,
            arm=assigned[cid][0],
            kind=kind,
            amount=amount,
            ref=ref,
            at=at,
        )
        existing[(cid, kind)] = row
        new.append(row)

    for part in range(0, len(ids), 500):
        chunk = ids[part : part + 500]
        holdings = session.execute(
            select(
                Holding.client_id,
                Holding.kind,
                Holding.product_code,
                Holding.amount,
                Holding.ref,
                Holding.opened_on,
            )
            .where(
                Holding.client_id.in_(chunk),
                Holding.opened_on >= start,
                Holding.opened_on <= end,
            )
            .order_by(Holding.opened_on, Holding.id)
        ).all()
        for cid, kind, product, amount, ref, opened in holdings:
            at = datetime.combine(opened, time(12), UTC)
            if kind in RENEWAL_KINDS and (
                campaign.product_code is None or product == campaign.product_code
            ):
                add(cid, "renewal", amount, ref, at)
            if campaign.product_code is not None and product == campaign.product_code:
                add(cid, "purchase", amount, ref, at)
        if today <= campaign.ends_on + timedelta(days=GRACE_DAYS):
            for cid, tier, aum in session.execute(
                select(Client.id, Client.tier, Client.aum).where(Client.id.in_(chunk))
            ):
                _arm, stratum, before = assigned[cid]
                if _tier(tier) > _tier(stratum):
                    add(cid, "tier_up", None, tier, now)
                if before is not None and aum is not None and aum > before:
                    add(cid, "aum_growth", aum - before, None, now)
                elif (cid, "aum_growth") in existing:
                    # kept current: a client whose AUM fell back is no longer a growth
                    session.delete(existing.pop((cid, "aum_growth")))
                    removed += 1
    session.add_all(new)
    session.flush()
    counts: dict[str, int] = {"updated": updated, "removed": removed}
    for row in new:
        label = f"{row.kind}:{row.arm}"
        counts[label] = counts.get(label, 0) + 1
    return counts


def attribute_all(session: Session, now: datetime) -> dict:
    today = POLICY.local(now).date()
    campaigns = session.scalars(
        select(Campaign).where(Campaign.status.in_(("launched", "ended"))).order_by(Campaign.id)
    ).all()
    out = {}
    for campaign in campaigns:
        if today > campaign.ends_on + timedelta(days=GRACE_DAYS) or today < campaign.starts_on:
            continue
        out[campaign.code] = attribute(session, campaign, now)
        session.commit()
    return {"campaigns": out}
