"""The client 360 (read side) and the contact consent a client gives per channel (write side).

An RM reads and changes only their own clients; the marketing team and admins every client
(``backend.marketing.access``); anyone else is refused (403), and another RM's client is
"not found" (404). The consent change is audited (before and after)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from backend.marketing import access
from backend.marketing.contact import POLICY
from backend.marketing.load import CHANNELS
from backend.marketing.models import (
    Client,
    ClientTag,
    ContactConsent,
    Holding,
    MarketingEvent,
    Task,
    Transaction,
)
from backend.platform import audit
from backend.platform.context import Actor
from backend.platform.errors import ValidationFailed
from backend.platform.pagination import Page, paginate

LAST_TRANSACTIONS = 20
LAST_EVENTS = 50
HHMM = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_clients(
    session: Session,
    actor: Actor,
    *,
    tier: str | None = None,
    outlet: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """The clients the caller may see, by id (filters: tier, outlet, tag, ``q`` a name or
    client number fragment); each item with its tags."""
    access.ensure_reader(actor)
    stmt = access.scope_clients(select(Client), actor)
    if tier:
        stmt = stmt.where(Client.tier == tier)
    if outlet:
        stmt = stmt.where(Client.outlet == outlet)
    if tag:
        stmt = stmt.where(exists().where(ClientTag.client_id == Client.id, ClientTag.tag == tag))
    if q:
        pattern = f"%{_like(q)}%"
        stmt = stmt.where(
            or_(Client.name.like(pattern, escape="\\"), Client.client_no.like(pattern, escape="\\"))
        )
    page = paginate(session, stmt, Client.id, limit=limit, cursor=cursor)
    ids = [c.id for c in page.items]
    tags: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for cid, name in session.execute(
            select(ClientTag.client_id, ClientTag.tag)
            .where(ClientTag.client_id.in_(ids))
            .order_by(ClientTag.tag)
        ):
            tags[cid].append(name)
    page.items = [_summary(c, tags[c.id]) for c in page.items]
    return page


def _summary(client: Client, tags: list[str]) -> dict[str, Any]:
    return {
        "id": client.id,
        "client_no": client.client_no,
        "name": client.name,
        "tier": client.tier,
        "aum": client.aum,
        "aum_on": client.aum_on,
        "outlet": client.outlet,
        "rm_user_id": client.rm_user_id,
        "digital_active": client.digital_active,
        "dormant": client.dormant,
        "tags": tags,
    }


def _consents(session: Session, client_id: int) -> list[dict[str, Any]]:
    rows = {
        c.channel: c
        for c in session.scalars(
            select(ContactConsent).where(ContactConsent.client_id == client_id)
        )
    }
    return [
        {
            "channel": ch,
            "granted": bool(rows[ch].granted) if ch in rows else False,
            "source": rows[ch].source if ch in rows else None,
            "recorded_at": rows[ch].recorded_at if ch in rows else None,
        }
        for ch in CHANNELS
    ]


def get_client_360(session: Session, actor: Actor, client_id: int, today: date) -> dict:
    """One client's 360: profile, AUM and tier, active holdings with maturities, the last
    transactions, tags, consent per channel and do-not-disturb hours, events."""
    access.ensure_reader(actor)
    client = access.get_client(session, actor, client_id)
    holdings = session.scalars(
        select(Holding).where(Holding.client_id == client.id).order_by(Holding.kind, Holding.id)
    ).all()
    txns = session.scalars(
        select(Transaction)
        .where(Transaction.client_id == client.id)
        .order_by(Transaction.at.desc(), Transaction.id.desc())
        .limit(LAST_TRANSACTIONS)
    ).all()
    tags = session.scalars(
        select(ClientTag).where(ClientTag.client_id == client.id).order_by(ClientTag.tag)
    ).all()
    events = session.scalars(
        select(MarketingEvent)
        .where(MarketingEvent.client_id == client.id)
        .order_by(MarketingEvent.occurred_at.desc(), MarketingEvent.id.desc())
        .limit(LAST_EVENTS)
    ).all()
    out = _summary(client, [t.tag for t in tags])
    out.update(
        {
            "gender": client.gender,
            "age": today.year - client.birth_year,
            "opened_on": client.opened_on,
            "risk_level": client.risk_level,
            "last_txn_at": client.last_txn_at,
            "dnd_from": client.dnd_from,
            "dnd_to": client.dnd_to,
            "holdings": [
                {
                    "id": h.id,
                    "ref": h.ref,
                    "kind": h.kind,
                    "product_code": h.product_code,
                    "product_name": h.product_name,
                    "amount": h.amount,
                    "rate": h.rate,
                    "opened_on": h.opened_on,
                    "matures_on": h.matures_on,
                    "days_to_maturity": (h.matures_on - today).days if h.matures_on else None,
                    "status": h.status,
                }
                for h in holdings
            ],
            "transactions": txns,
            "tag_details": tags,
            "consents": _consents(session, client.id),
            "events": events,
        }
    )
    return out


def _check_dnd(dnd_from: str | None, dnd_to: str | None) -> None:
    problems = {}
    for name, value in (("dnd_from", dnd_from), ("dnd_to", dnd_to)):
        if value is not None and not HHMM.match(value):
            problems[name] = ["HH:MM, 00:00 to 23:59"]
    if not problems and (dnd_from is None) != (dnd_to is None):
        problems["dnd_to" if dnd_to is None else "dnd_from"] = ["both hours or neither"]
    if not problems and dnd_from is not None and dnd_from == dnd_to:
        problems["dnd_to"] = ["not the same as dnd_from"]
    if problems:
        raise ValidationFailed("do-not-disturb hours are not valid", details=problems)


_UNSET: Any = object()


def set_consent(
    session: Session,
    actor: Actor,
    client_id: int,
    *,
    channel: str | None = None,
    granted: bool | None = None,
    dnd_from: str | None = _UNSET,
    dnd_to: str | None = _UNSET,
    now: datetime,
) -> dict:
    """Record the client's word on one channel (``granted``) and/or their do-not-disturb
    hours (``HH:MM`` local, both or neither; ``None`` for both clears them). The client's RM or
    the team; audited."""
    access.ensure_reader(actor)
    client = access.get_client(session, actor, client_id)
    if (channel is None) != (granted is None):
        raise ValidationFailed(
            "channel and granted go together",
            details={"granted" if granted is None else "channel": ["required with the other"]},
        )
    if channel is not None and channel not in CHANNELS:
        raise ValidationFailed("unknown channel", details={"channel": [f"one of {CHANNELS}"]})
    dnd_given = dnd_from is not _UNSET or dnd_to is not _UNSET
    if dnd_given:
        new_from = None if dnd_from is _UNSET else dnd_from
        new_to = None if dnd_to is _UNSET else dnd_to
        _check_dnd(new_from, new_to)
    if channel is None and not dnd_given:
        raise ValidationFailed(
            "nothing to change", details={"channel": ["give channel and granted, or DnD hours"]}
        )
    before = {
        "consents": _plain(_consents(session, client.id)),
        "dnd": [client.dnd_from, client.dnd_to],
    }
    if channel is not None:
        row = session.scalar(
            select(ContactConsent)
            .where(ContactConsent.client_id == client.id, ContactConsent.channel == channel)
            .with_for_update()
        )
        source = "rm" if actor.role == "rm" else "team"
        if row is None:
            session.add(
                ContactConsent(
                    client_id=client.id,
                    channel=channel,
                    granted=bool(granted),
                    source=source,
                    recorded_at=now,
                )
            )
        else:
            row.granted, row.source, row.recorded_at = bool(granted), source, now
    cancelled = 0
    if channel is not None and not granted:
        # the RM's open calls and visits need the consent just withdrawn: they are not made
        kinds = [k for k, needs in POLICY.consent.items() if needs == channel]
        cancelled = session.execute(
            update(Task)
            .where(Task.client_id == client.id, Task.status == "open", Task.kind.in_(kinds))
            .values(status="cancelled")
            .execution_options(synchronize_session="fetch")
        ).rowcount
    if dnd_given:
        client.dnd_from, client.dnd_to = new_from, new_to
        client.updated_at = now
    session.flush()
    consents = _consents(session, client.id)
    audit.record(
        session,
        actor,
        "marketing.consent_changed",
        "mkt_client",
        client.id,
        before=before,
        after={
            "consents": _plain(consents),
            "dnd": [client.dnd_from, client.dnd_to],
            **({"tasks_cancelled": cancelled} if cancelled else {}),
        },
    )
    return {
        "client_id": client.id,
        "consents": consents,
        "dnd_from": client.dnd_from,
        "dnd_to": client.dnd_to,
    }


def _plain(consents: list[dict]) -> dict[str, bool]:
    return {c["channel"]: c["granted"] for c in consents}
