"""Demo campaign (seeder ``seed_campaigns``, after the client base's seeder): a maturity-renewal
campaign on the clients whose wealth product or time deposit matures within 30 days (affluent
tier and above), launched 5 days ago with the 3:1 split, contacted under the policy (SMS and
mini-program messages through the notifier, RM call tasks), some tasks done, the market's
response simulated from the synthetic base's truth (``simulate``) and the conversions
attributed by the product — so the campaign page shows renewal and tier-up against control.

Idempotent (nothing when the campaign exists) and nothing at all without a client base. A plain
seed (every test app) campaigns on whatever base is there (a dozen clients: fast); the demo's
seed (``--enterprises``/``--cars``) first tops the list up to ``DEMO_LIST`` clients with a
synthetic cohort (``synth.clients`` seed ``COHORT_SEED``, RMs rm1 and rm2) so that the
arms are large enough for the planted effect to show (about 900 treated, 300 control:
tier-ups are rare, 1.5% of the treated against 0.6% of the control).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from backend.marketing.campaigns import service
from backend.marketing.campaigns.conversions import attribute
from backend.marketing.campaigns.delivery import run_campaign
from backend.marketing.contact import POLICY
from backend.marketing.models import Campaign, Client, Holding, Segment, Task
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM

CODE = "DEMO-RENEWAL"
SEGMENT = "到期续作 · 30天内到期 · 富裕及以上"
SEED = 20261204
COHORT_SEED = 618
COHORT_N = 60_000  # about 2.5% are affluent-or-above with a maturity within 30 days
DEMO_LIST = 1200
OUTCOMES = ("reached", "interested", "converted", "not_reached", "declined")


def _list(session: Session, today) -> list[int]:
    """Affluent-and-above clients with a wealth product or time deposit maturing within 30
    days."""
    return list(
        session.scalars(
            select(Client.id)
            .join(
                Holding,
                and_(
                    Holding.client_id == Client.id,
                    Holding.kind.in_(("wealth", "time")),
                    Holding.status == "active",
                    Holding.matures_on >= today,
                    Holding.matures_on <= today + timedelta(days=30),
                ),
            )
            .where(Client.tier.in_(("affluent", "wealth", "private")))
            .distinct()
        )
    )


def _top_up(session: Session, today, wanted: int) -> int:
    """Load about ``wanted`` more such clients from a synthetic cohort (demo only)."""
    from backend.identity.models import User
    from backend.marketing import synth
    from backend.marketing.load import load_clients

    rms = [session.scalar(select(User.id).where(User.username == name)) for name in ("rm1", "rm2")]
    rms = [r for r in rms if r is not None] or [None]
    frame = synth.clients(COHORT_N, seed=COHORT_SEED)
    pick = frame[(frame["tier_idx"] >= 1) & frame["maturing_30d"]].head(wanted)
    load_clients(session, pick, rm_user_ids=rms, as_of=today, seed=COHORT_SEED)
    return len(pick)


def seed_campaigns(session: Session, options=None, *, now=None) -> dict:
    if session.scalar(select(Campaign.id).where(Campaign.code == CODE)) is not None:
        return {"campaigns": 0}
    now = now or utcnow()
    today = POLICY.local(now).date()
    launched = now - timedelta(days=5)
    start = today - timedelta(days=5)
    members = _list(session, today)
    demo = bool(getattr(options, "enterprises", 0) or getattr(options, "cars", 0))
    if demo and members and len(members) < DEMO_LIST:
        _top_up(session, today, DEMO_LIST - len(members))
        members = _list(session, today)
    if len(members) < 8:
        return {"campaigns": 0, "campaign_note": "no client base to campaign on"}

    segment = session.scalar(select(Segment).where(Segment.name == SEGMENT))
    if segment is None:
        segment = Segment(
            name=SEGMENT,
            kind="rule",
            definition={
                "all": [
                    {"field": "tier", "op": "in", "value": ["affluent", "wealth", "private"]},
                    {"event": "maturity", "within_days": 30},
                ]
            },
            created_at=launched,
        )
        session.add(segment)
        session.flush()
        service.freeze_members(session, segment, members)
    campaign = service.create_campaign(
        session,
        SYSTEM,
        {
            "code": CODE,
            "name": "理财到期续作 (demo)",
            "target_indicator": "renewal",
            "segment_id": segment.id,
            "product_code": "WM-180",
            "script": "您好{name}，您的理财即将到期，稳享180天理财可续作，年化2.6%。",
            "sms_template": (
                "尊敬的{name}：您的理财即将到期，稳享180天理财可续作，详询{outlet}网点。"
            ),
            "channels": ["sms", "miniapp", "call"],
            "starts_on": start,
            "ends_on": today + timedelta(days=25),
            "budget": Decimal("5000.00"),
            "cost_per_contact": Decimal("0.50"),
            "control_share": 0.25,
            "target_uplift": 0.10,
            "seed": SEED,
        },
        now=launched,
    )
    service.launch(session, SYSTEM, campaign.id, now=launched)
    # contacted the day of launch, at 10:00 local time (outside anyone's do-not-disturb hours)
    at = launched.astimezone(POLICY.timezone).replace(hour=10, minute=0).astimezone(launched.tzinfo)
    sent = run_campaign(session, campaign, at)
    tasks = session.scalars(
        select(Task).where(Task.campaign_id == campaign.id).order_by(Task.id)
    ).all()
    done = 0
    for k, task in enumerate(tasks):
        if k % 3 == 2:  # a third still open
            continue
        task.status = "done"
        task.outcome = OUTCOMES[k % len(OUTCOMES)]
        task.opportunity = task.outcome in ("interested", "converted")
        task.done_at = at + timedelta(days=1 + k % 5)
        done += 1
    simulated = {}
    from backend.marketing.simulate import frame_of_base, simulate

    frame = frame_of_base(session, sizes={COHORT_SEED: COHORT_N})
    if frame is not None:
        simulated = simulate(session, campaign, frame, as_of=today, seed=SEED)
    converted = attribute(session, campaign, now)
    session.flush()
    return {
        "campaigns": 1,
        "campaign_clients": len(members),
        "campaign_contacts": sum(sent.values()),
        "campaign_tasks_done": done,
        "campaign_simulated": bool(simulated),
        "campaign_conversions": sum(v for k, v in converted.items() if k != "updated"),
    }
