"""The demo campaign: on a synthetic client base, the seeder launches the maturity-renewal
campaign, contacts the treated clients, simulates the market and attributes conversions —
renewal and tier-up come out higher in the treated arm, as planted. Idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.marketing import synth
from backend.marketing.campaigns.seed import CODE, seed_campaigns
from backend.marketing.load import load_clients
from backend.marketing.models import Assignment, Campaign, Contact, Conversion, Task
from backend.platform.seeding import SeedOptions
from tests.integration.marketing_campaign_support import people


def test_demo_campaign_shows_renewal_and_tier_up_against_control(session):
    assert seed_campaigns(session, SeedOptions())["campaigns"] == 0  # no client base: nothing
    actors = people(session)
    load_clients(
        session,
        synth.clients(1500, seed=18),
        rm_user_ids=(actors["t_rm1"].user_id, actors["t_rm2"].user_id, None),
    )
    report = seed_campaigns(session, SeedOptions())
    session.commit()
    assert report["campaigns"] == 1 and report["campaign_simulated"], report
    campaign = session.scalar(select(Campaign).where(Campaign.code == CODE))
    assert campaign.status == "launched" and campaign.power["overall"]["power"] > 0
    arms = dict(
        session.execute(
            select(Assignment.arm, func.count())
            .where(Assignment.campaign_id == campaign.id)
            .group_by(Assignment.arm)
        ).all()
    )
    assert (
        arms["control"] == round(sum(arms.values()) * 0.25)
        or abs(arms["control"] - sum(arms.values()) * 0.25) <= 4
    )  # rounded per tier
    rates = {}
    for kind in ("renewal", "tier_up"):
        for arm in ("treatment", "control"):
            n = session.scalar(
                select(func.count())
                .select_from(Conversion)
                .where(
                    Conversion.campaign_id == campaign.id,
                    Conversion.kind == kind,
                    Conversion.arm == arm,
                )
            )
            rates[(kind, arm)] = n / arms[arm]
    assert rates[("renewal", "treatment")] > rates[("renewal", "control")], rates
    assert rates[("tier_up", "treatment")] >= rates[("tier_up", "control")], rates
    control = select(Assignment.client_id).where(
        Assignment.campaign_id == campaign.id, Assignment.arm == "control"
    )
    assert not session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.status == "sent", Contact.client_id.in_(control))
    )
    assert session.scalar(select(func.count()).select_from(Task).where(Task.status == "done"))
    assert seed_campaigns(session, SeedOptions())["campaigns"] == 0
