"""Campaigns' read side: the list, one campaign from launch to its results (arms per tier,
contacts sent and refused by reason, tasks by status, conversions per arm), and the RM tasks
(an RM their own, the team every one) with the client's summary and the script."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.marketing import access
from backend.marketing.campaigns.service import STATUSES
from backend.marketing.models import (
    Assignment,
    Campaign,
    Client,
    Contact,
    ContactConsent,
    Conversion,
    Holding,
    Segment,
    Task,
)
from backend.platform.errors import NotFound
from backend.platform.pagination import Page, paginate


def list_campaigns(
    session: Session, actor, *, status: str | None = None, limit=None, cursor=None
) -> Page:
    access.ensure_team(actor)
    stmt = select(Campaign)
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    return paginate(session, stmt, Campaign.id, limit=limit, cursor=cursor, descending=True)


def get_campaign(session: Session, actor, campaign_id: int) -> Campaign:
    access.ensure_team(actor)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    return campaign


def campaign_detail(session: Session, actor, campaign_id: int) -> dict:
    """The campaign and its figures so far (team only)."""
    campaign = get_campaign(session, actor, campaign_id)
    arms: dict[str, dict[str, int]] = {}
    for stratum, arm, n in session.execute(
        select(Assignment.stratum, Assignment.arm, func.count())
        .where(Assignment.campaign_id == campaign.id)
        .group_by(Assignment.stratum, Assignment.arm)
    ):
        arms.setdefault(stratum, {"treatment": 0, "control": 0})[arm] = int(n)
    contacts: dict[str, dict[str, int]] = {}
    for channel, status, reason, n in session.execute(
        select(Contact.channel, Contact.status, Contact.reason, func.count())
        .where(Contact.campaign_id == campaign.id)
        .group_by(Contact.channel, Contact.status, Contact.reason)
    ):
        label = status if reason is None else f"{status}:{reason}"
        contacts.setdefault(channel, {})[label] = int(n)
    tasks: dict[str, int] = {}
    for status, n in session.execute(
        select(Task.status, func.count())
        .where(Task.campaign_id == campaign.id)
        .group_by(Task.status)
    ):
        tasks[status] = int(n)
    outcomes: dict[str, int] = {}
    for outcome, n in session.execute(
        select(Task.outcome, func.count())
        .where(Task.campaign_id == campaign.id, Task.outcome.is_not(None))
        .group_by(Task.outcome)
    ):
        outcomes[outcome] = int(n)
    sizes = {"treatment": 0, "control": 0}
    for per in arms.values():
        for arm, n in per.items():
            sizes[arm] += n
    conversions: dict[str, dict] = {}
    for kind, arm, n in session.execute(
        select(Conversion.kind, Conversion.arm, func.count())
        .where(Conversion.campaign_id == campaign.id)
        .group_by(Conversion.kind, Conversion.arm)
    ):
        row = conversions.setdefault(
            kind, {"treatment": 0, "control": 0, "treatment_rate": None, "control_rate": None}
        )
        row[arm] = int(n)
    for row in conversions.values():
        for arm in ("treatment", "control"):
            row[f"{arm}_rate"] = round(row[arm] / sizes[arm], 4) if sizes[arm] else None
    segment = session.get(Segment, campaign.segment_id) if campaign.segment_id else None
    return {
        "campaign": campaign,
        "segment_name": segment.name if segment else None,
        "arms": {"total": sizes, "tiers": arms},
        "contacts": contacts,
        "tasks": {"by_status": tasks, "by_outcome": outcomes},
        "conversions": conversions,
    }


def list_tasks(
    session: Session,
    actor,
    *,
    status: str | None = None,
    campaign_id: int | None = None,
    limit=None,
    cursor=None,
) -> Page:
    access.ensure_reader(actor)
    stmt = access.scope_tasks(select(Task), actor)
    if status is not None:
        stmt = stmt.where(Task.status == status)
    if campaign_id is not None:
        stmt = stmt.where(Task.campaign_id == campaign_id)
    return paginate(session, stmt, Task.id, limit=limit, cursor=cursor, descending=True)


def task_detail(session: Session, actor, task_id: int) -> dict:
    """The task, its campaign's script and product, and the client's summary: tier, AUM,
    holdings maturing, consent per channel, do-not-disturb hours."""
    access.ensure_reader(actor)
    task = access.get_task(session, actor, task_id)
    campaign = session.get(Campaign, task.campaign_id)
    client = session.get(Client, task.client_id)
    holdings = session.scalars(
        select(Holding)
        .where(Holding.client_id == client.id, Holding.status == "active")
        .order_by(Holding.matures_on.is_(None), Holding.matures_on, Holding.id)
    ).all()
    consents = {
        channel: bool(granted)
        for channel, granted in session.execute(
            select(ContactConsent.channel, ContactConsent.granted).where(
                ContactConsent.client_id == client.id
            )
        )
    }
    return {
        "task": task,
        "campaign": {
            "id": campaign.id,
            "code": campaign.code,
            "name": campaign.name,
            "target_indicator": campaign.target_indicator,
            "product_code": campaign.product_code,
            "script": campaign.script,
            "ends_on": campaign.ends_on,
        },
        "client": {
            "id": client.id,
            "client_no": client.client_no,
            "name": client.name,
            "tier": client.tier,
            "aum": client.aum,
            "outlet": client.outlet,
            "dnd_from": client.dnd_from,
            "dnd_to": client.dnd_to,
            "consents": consents,
            "holdings": [
                {
                    "kind": h.kind,
                    "product_code": h.product_code,
                    "product_name": h.product_name,
                    "amount": h.amount,
                    "matures_on": h.matures_on,
                }
                for h in holdings
                if h.kind != "loan"
            ],
        },
    }


def my_messages(session: Session, actor, *, limit=None, cursor=None) -> Page:
    """A client's own mini-program messages from campaigns (sent), newest first: the inbox of
    the client's login (``Client.user_id``). Other roles: 403."""
    from backend.platform.permissions import ensure_role

    ensure_role(actor, "client")
    stmt = (
        select(Contact)
        .join(Client, Client.id == Contact.client_id)
        .where(
            Client.user_id == actor.user_id,
            Contact.channel == "miniapp",
            Contact.status == "sent",
        )
    )
    return paginate(session, stmt, Contact.id, limit=limit, cursor=cursor, descending=True)


__all__ = [
    "STATUSES",
    "campaign_detail",
    "get_campaign",
    "list_campaigns",
    "list_tasks",
    "my_messages",
    "task_detail",
]
