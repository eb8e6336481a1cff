"""The contact policy: what every marketing contact must pass, and the record of every attempt.

The limits are in ``contact_policy.yaml`` beside this module (versioned; checked at import, so a
bad file stops the process at start). A contact of a client on a channel for a campaign is
refused, in this order, when:

1. the client is not in the campaign's treatment arm (``holdout``: the control group is never
   contacted; ``not_assigned`` for a client outside the campaign);
2. the client has not consented to that channel (``no_consent``; the latest word counts);
3. the channel needs something the client lacks (``no_login`` for a mini-program message
   without a FinEdge login, ``no_rm`` for a call or visit without a relationship manager);

it *waits* (status ``waiting``, reason ``do_not_disturb``) while the client's local time
(Asia/Shanghai) is inside their do-not-disturb hours, for the channels the policy names (SMS,
calls): the next run after the hours sends it; and it is refused when sending it would pass

4. a fatigue limit (``fatigue``: marketing contacts *sent* to the client over all campaigns,
   e.g. at most 2 per 7 days and 4 per 30 days), or
5. the campaign's budget (``budget``: cost per contact × contacts sent ≤ budget).

Every attempt is one ``mkt_contacts`` row, keyed ``(campaign, client, channel, local day)``:
a second attempt the same day returns the row (sent and refused are final for that day; a
waiting or failed row is tried again and updated, on a later day re-keyed to that day, so a
contact that waited overnight is one row, not a waiting one left behind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.marketing.models import Assignment, Campaign, Client, Contact, ContactConsent

POLICY_FILE = Path(__file__).with_name("contact_policy.yaml")
CHANNELS = ("sms", "miniapp", "call", "visit")
REASONS = (
    "holdout",
    "not_assigned",
    "no_consent",
    "no_login",
    "no_rm",
    "do_not_disturb",
    "fatigue",
    "budget",
)
FINAL = ("sent", "refused")  # a row in these states is the day's answer


class PolicyError(ValueError):
    """The contact policy file is not usable."""


@dataclass(frozen=True)
class ContactPolicy:
    version: str
    timezone: ZoneInfo
    consent: dict[str, str]
    do_not_disturb: tuple[str, ...]
    fatigue: tuple[tuple[int, int], ...]  # (days, max sent)

    @property
    def longest_window(self) -> int:
        return max((days for days, _ in self.fatigue), default=0)

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.timezone)


def _hhmm(value: str | None) -> time | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes))


def in_dnd(local_now: datetime, dnd_from: str | None, dnd_to: str | None) -> bool:
    """Inside the client's do-not-disturb hours (``"21:00"``–``"09:00"`` crosses midnight)."""
    start, end = _hhmm(dnd_from), _hhmm(dnd_to)
    if start is None or end is None or start == end:
        return False
    now = local_now.time().replace(tzinfo=None)
    if start < end:
        return start <= now < end
    return now >= start or now < end


def load_policy(path: Path = POLICY_FILE) -> ContactPolicy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise PolicyError("the file is not a mapping")
        consent = dict(raw["consent"])
        if set(consent) != set(CHANNELS):
            raise PolicyError(f"consent must name every channel {CHANNELS}")
        dnd = tuple(raw.get("do_not_disturb") or ())
        if not set(dnd) <= set(CHANNELS):
            raise PolicyError("do_not_disturb names an unknown channel")
        fatigue = tuple(sorted((int(x["days"]), int(x["max"])) for x in raw["fatigue"]))
        if any(days < 1 or most < 0 for days, most in fatigue):
            raise PolicyError("fatigue: days ≥ 1 and max ≥ 0")
        return ContactPolicy(
            version=str(raw["version"]),
            timezone=ZoneInfo(str(raw["timezone"])),
            consent=consent,
            do_not_disturb=dnd,
            fatigue=fatigue,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, PolicyError):
            raise
        raise PolicyError(f"{path.name}: {exc!r}") from None


POLICY = load_policy()


@dataclass
class PolicyState:
    """What the policy needs to know about a set of clients for one campaign, read in bulk
    once per run and kept current as contacts are sent."""

    policy: ContactPolicy
    campaign: Campaign
    arms: dict[int, str]
    consents: dict[tuple[int, str], bool]
    sent_at: dict[int, list[datetime]]
    campaign_sent: int
    rows: dict[str, Contact] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        session: Session,
        campaign: Campaign,
        client_ids: Iterable[int],
        now: datetime,
        policy: ContactPolicy = POLICY,
    ) -> PolicyState:
        ids = sorted(set(client_ids))
        arms: dict[int, str] = {}
        consents: dict[tuple[int, str], bool] = {}
        sent_at: dict[int, list[datetime]] = {}
        since = now - timedelta(days=policy.longest_window)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            arms.update(
                session.execute(
                    select(Assignment.client_id, Assignment.arm).where(
                        Assignment.campaign_id == campaign.id, Assignment.client_id.in_(chunk)
                    )
                ).all()
            )
            for client_id, channel, granted in session.execute(
                select(
                    ContactConsent.client_id, ContactConsent.channel, ContactConsent.granted
                ).where(ContactConsent.client_id.in_(chunk))
            ):
                consents[(client_id, channel)] = bool(granted)
            for client_id, at in session.execute(
                select(Contact.client_id, Contact.at).where(
                    Contact.client_id.in_(chunk), Contact.status == "sent", Contact.at > since
                )
            ):
                sent_at.setdefault(client_id, []).append(at)
        campaign_sent = session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.campaign_id == campaign.id, Contact.status == "sent")
        )
        return cls(policy, campaign, arms, consents, sent_at, int(campaign_sent or 0))

    def budget_left(self) -> bool:
        cost = Decimal(self.campaign.cost_per_contact or 0)
        return cost * (self.campaign_sent + 1) <= Decimal(self.campaign.budget)

    def fatigued(self, client_id: int, now: datetime) -> bool:
        sent = self.sent_at.get(client_id, [])
        for days, most in self.policy.fatigue:
            since = now - timedelta(days=days)
            if sum(1 for at in sent if at > since) + 1 > most:
                return True
        return False

    def check(self, client: Client, channel: str, now: datetime) -> tuple[str, str | None]:
        """(status, reason): ``("ok", None)``, ``("refused", reason)`` or
        ``("waiting", "do_not_disturb")`` — in the module docstring's order."""
        arm = self.arms.get(client.id)
        if arm != "treatment":
            return "refused", "holdout" if arm == "control" else "not_assigned"
        if not self.consents.get((client.id, self.policy.consent[channel]), False):
            return "refused", "no_consent"
        if channel == "miniapp" and client.user_id is None:
            return "refused", "no_login"
        if channel in ("call", "visit") and client.rm_user_id is None:
            return "refused", "no_rm"
        if channel in self.policy.do_not_disturb and in_dnd(
            self.policy.local(now), client.dnd_from, client.dnd_to
        ):
            return "waiting", "do_not_disturb"
        if self.fatigued(client.id, now):
            return "refused", "fatigue"
        if not self.budget_left():
            return "refused", "budget"
        return "ok", None


def contact_key(campaign_id: int, client_id: int, channel: str, day: date) -> str:
    return f"c{campaign_id}:{client_id}:{channel}:{day.isoformat()}"


@dataclass(frozen=True)
class Delivery:
    """What the caller's ``deliver`` returns: sent or failed, with the provider's reference."""

    sent: bool
    provider: str | None = None
    ref: str | None = None
    error: str | None = None


def attempt(
    session: Session,
    state: PolicyState,
    client: Client,
    channel: str,
    now: datetime,
    body: str,
    deliver: Callable[[], Delivery],
) -> Contact:
    """One contact attempt under the policy: the day's row for (campaign, client, channel),
    created or updated; ``deliver`` is called only when the policy allows the contact."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    day = state.policy.local(now).date()
    key = contact_key(state.campaign.id, client.id, channel, day)
    row = state.rows.get(key) or session.scalar(select(Contact).where(Contact.key == key))
    if row is not None and row.status in FINAL:
        return row
    if row is None:  # an earlier day's attempt still waiting (or failed) becomes today's
        row = session.scalar(
            select(Contact)
            .where(
                Contact.campaign_id == state.campaign.id,
                Contact.client_id == client.id,
                Contact.channel == channel,
                Contact.status.in_(("waiting", "failed")),
            )
            .order_by(Contact.id.desc())
            .limit(1)
        )
        if row is not None:
            row.key = key
    status, reason = state.check(client, channel, now)
    provider = ref = None
    if status == "ok":
        delivery = deliver()
        provider, ref = delivery.provider, delivery.ref
        if delivery.sent:
            status, reason = "sent", None
            state.campaign_sent += 1
            state.sent_at.setdefault(client.id, []).append(now)
        else:
            status, reason = "failed", (delivery.error or "failed")[:40]
    if row is None:
        row = Contact(
            key=key,
            campaign_id=state.campaign.id,
            client_id=client.id,
            channel=channel,
        )
        session.add(row)
    row.status = status
    row.reason = reason
    row.provider = provider
    row.provider_ref = ref
    row.body = body if status == "sent" else ""
    row.at = now
    state.rows[key] = row
    return row
