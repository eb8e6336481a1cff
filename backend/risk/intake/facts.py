"""Source facts and master data: what each source says of an enterprise's profile.

Every source's value of a profile attribute (name, registered capital, status, address, ...)
is kept as a *source fact* (``risk_source_facts``: the latest value per source, so that the
view can show where sources disagree).  Only a master source (the business ``registry``)
updates the enterprise's own record; other sources fill fields that are still empty.  Some
events carry profile facts too (a capital change, a status change, an address change, the
abnormal-operation list)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.risk import catalog
from backend.risk.creditcode import normalize_name
from backend.risk.intake.records import FeedRecord
from backend.risk.models import Enterprise, SourceFact

# Facts already read in this ingestion, per (enterprise, source): one query each.
_CACHE = "risk_ingest_facts"


def forget(session: Session) -> None:
    """Drop the facts cached on the session by this ingestion."""
    session.info.pop(_CACHE, None)


def _set_fact(
    session: Session, ent: Enterprise, source: str, attribute: str, value: Any, when: datetime
) -> str | None:
    """Record what ``source`` says of ``attribute``: 'created', 'changed' or None (same)."""
    text = str(value)[:300]
    cache = session.info.setdefault(_CACHE, {})
    facts = cache.get((ent.id, source))
    if facts is None:  # one query per enterprise and source within one ingestion
        facts = {
            f.attribute: f
            for f in session.scalars(
                select(SourceFact).where(
                    SourceFact.enterprise_id == ent.id, SourceFact.source == source
                )
            )
        }
        cache[(ent.id, source)] = facts
    fact = facts.get(attribute)
    if fact is None:
        fact = SourceFact(
            enterprise_id=ent.id, source=source, attribute=attribute, value=text, source_time=when
        )
        session.add(fact)
        facts[attribute] = fact
        return "created"
    if when >= fact.source_time and (fact.value, fact.source_time) != (text, when):
        fact.value, fact.source_time = text, when
        return "changed"
    return None


def _apply_master(ent: Enterprise, attribute: str, value: Any) -> None:
    if attribute == "registered_capital":
        ent.registered_capital = Decimal(value)
    elif attribute == "established_on":
        ent.established_on = date.fromisoformat(value)
    elif attribute in ("status", "industry", "region"):
        setattr(ent, attribute, value)
    elif attribute == "name":
        ent.name, ent.normalized_name = value[:200], normalize_name(value)[:200]
    else:
        ent.attributes = {**(ent.attributes or {}), attribute: value}


_COLUMNS = ("registered_capital", "established_on", "status", "industry", "region")


def _master_value(ent: Enterprise, attribute: str) -> Any:
    if attribute in _COLUMNS:
        return getattr(ent, attribute)
    return (ent.attributes or {}).get(attribute)


def apply_profile(
    session: Session, ent: Enterprise, source: str, record: FeedRecord, now: datetime
) -> str:
    """Apply a profile record: 'accepted' (a new fact), 'updated' or 'duplicate' (nothing new)."""
    data = dict(record.data)
    if record.enterprise and record.enterprise.name:
        data.setdefault("name", record.enterprise.name)
    master = source in catalog.MASTER_SOURCES
    outcomes = set()
    for attribute, value in data.items():
        if attribute in catalog.PROFILE_ATTRIBUTES:
            outcomes.add(_set_fact(session, ent, source, attribute, value, record.time))
        elif _master_value(ent, attribute) != value:
            outcomes.add("changed")
        if master or (attribute != "name" and _master_value(ent, attribute) in (None, "")):
            _apply_master(ent, attribute, value)
    if outcomes <= {None}:
        return "duplicate"
    ent.updated_at = now
    return "accepted" if "created" in outcomes else "updated"


def from_event(session: Session, ent: Enterprise, source: str, record: FeedRecord) -> None:
    """The profile facts an event carries (capital, status, address, the abnormal list)."""
    data, master = record.data, source in catalog.MASTER_SOURCES
    fact = {
        "capital_change": ("registered_capital", data.get("new")),
        "status_change": ("status", data.get("status")),
        "address_change": ("address", data.get("address")),
    }.get(record.kind)
    if fact and fact[1] is not None:
        _set_fact(session, ent, source, fact[0], fact[1], record.time)
        if master:
            _apply_master(ent, fact[0], fact[1])
    if record.kind == "abnormal_operation" and master and ent.status == "in_business":
        ent.status = "abnormal"
    if record.kind == "abnormal_operation_removed" and master and ent.status == "abnormal":
        ent.status = "in_business"
