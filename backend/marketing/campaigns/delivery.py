"""The campaigns' delivery run (job ``marketing.campaigns``): for every launched campaign whose
window is open, each treated client is contacted once per channel under the contact policy —
SMS and mini-program messages through the notifier, calls and visits as tasks on the client's
RM's list. Control clients are never looked at. A campaign past its end is marked ``ended``.

A client's channel is done for the campaign once a contact was sent (or the task made), or
refused for a reason that a later day does not change (holdout, no consent, no login, no RM,
budget); a refusal for fatigue, a wait for do-not-disturb hours and a provider's failure are
tried again on the next run. Commits every ``CHUNK`` clients, so what was sent stays recorded
if a later part fails.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.marketing.campaigns.templates import render
from backend.marketing.contact import POLICY, Delivery, PolicyState, attempt, contact_key
from backend.marketing.models import Assignment, Campaign, Client, Contact, Task
from backend.platform.audit import record
from backend.platform.context import SYSTEM
from backend.platform.notifier import Message, Notifier, notifier_of

CHUNK = 200
SETTLED = ("holdout", "not_assigned", "no_consent", "no_login", "no_rm", "budget")


def _settled(session: Session, campaign_id: int) -> set[tuple[int, str]]:
    rows = session.execute(
        select(Contact.client_id, Contact.channel, Contact.status, Contact.reason).where(
            Contact.campaign_id == campaign_id,
            Contact.status.in_(("sent", "refused")),
        )
    ).all()
    return {
        (client_id, channel)
        for client_id, channel, status, reason in rows
        if status == "sent" or reason in SETTLED
    }


def run_campaign(
    session: Session, campaign: Campaign, now: datetime, notifier: Notifier | None = None
) -> dict:
    """Contact the campaign's treated clients due now; counts by status and reason."""
    notifier = notifier or notifier_of(session)
    day = POLICY.local(now).date()
    done = _settled(session, campaign.id)
    treated_ids = list(
        session.scalars(
            select(Assignment.client_id)
            .where(Assignment.campaign_id == campaign.id, Assignment.arm == "treatment")
            .order_by(Assignment.client_id)
        )
    )
    counts: dict[str, int] = {}
    for start in range(0, len(treated_ids), CHUNK):
        chunk = treated_ids[start : start + CHUNK]
        todo = [cid for cid in chunk if any((cid, ch) not in done for ch in campaign.channels)]
        if not todo:
            continue
        clients = session.scalars(select(Client).where(Client.id.in_(todo))).all()
        state = PolicyState.load(session, campaign, todo, now)
        for client in sorted(clients, key=lambda c: c.id):
            for channel in campaign.channels:
                if (client.id, channel) in done:
                    continue
                key = contact_key(campaign.id, client.id, channel, day)
                body = ""
                if channel in ("sms", "miniapp"):
                    body = render(
                        campaign.sms_template or campaign.name,
                        {
                            "name": client.name,
                            "product": campaign.product_code or "",
                            "ends_on": campaign.ends_on.isoformat(),
                            "outlet": client.outlet,
                        },
                    )
                deliver = _deliverer(
                    session, campaign, client, channel, key, body, day, notifier, now
                )
                row = attempt(session, state, client, channel, now, body, deliver)
                label = row.status if row.reason is None else f"{row.status}:{row.reason}"
                counts[label] = counts.get(label, 0) + 1
        session.commit()
    return counts


def _deliverer(session, campaign, client, channel, key, body, day, notifier, now):
    if channel in ("sms", "miniapp"):
        to = client.client_no if channel == "sms" else str(client.user_id or "")

        def send() -> Delivery:
            receipt = notifier.send(
                Message(
                    channel=channel, to=to, body=body, key=key, meta={"campaign": campaign.code}
                )
            )
            return Delivery(receipt.sent, receipt.provider, receipt.ref, receipt.error)

        return send

    def make_task() -> Delivery:
        task = session.scalar(
            select(Task).where(
                Task.campaign_id == campaign.id, Task.client_id == client.id, Task.kind == channel
            )
        )
        if task is None:
            task = Task(
                campaign_id=campaign.id,
                client_id=client.id,
                rm_user_id=client.rm_user_id,
                kind=channel,
                due_on=day,
                status="open",
                opportunity=False,
                note="",
                created_at=now,
            )
            session.add(task)
            session.flush()
        return Delivery(True, "rm_task", f"task-{task.id}")

    return make_task


def run_campaigns(session: Session, now: datetime, notifier: Notifier | None = None) -> dict:
    """Every launched campaign: ended past its window, else contacted (``run_campaign``)."""
    day = POLICY.local(now).date()
    result: dict = {"policy": POLICY.version, "campaigns": {}, "ended": []}
    campaigns = session.scalars(
        select(Campaign).where(Campaign.status == "launched").order_by(Campaign.id)
    ).all()
    for campaign in campaigns:
        if day > campaign.ends_on:
            campaign.status = "ended"
            result["ended"].append(campaign.code)
            cancelled = (
                session.query(Task)
                .filter(Task.campaign_id == campaign.id, Task.status == "open")
                .update({"status": "cancelled"})
            )
            record(
                session,
                SYSTEM,
                "marketing.campaign.end",
                "mkt_campaign",
                campaign.id,
                {"status": "launched"},
                {"status": "ended", "tasks_cancelled": cancelled},
            )
            session.commit()
            continue
        if day < campaign.starts_on:
            continue
        result["campaigns"][campaign.code] = run_campaign(session, campaign, now, notifier)
    return result
