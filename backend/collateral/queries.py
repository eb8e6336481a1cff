"""The collateral registry's read side: lists and objects, each scoped to what the caller may
see (``backend.collateral.access``). Reads only: GET requests are read-only units of work."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral import access
from backend.collateral.models import (
    CreditLink,
    MortgageRegistration,
    Property,
    PropertyDocument,
    Valuation,
)
from backend.platform.context import Actor
from backend.platform.pagination import Page, paginate

HISTORY = 20  # valuations shown with a property, newest first


@dataclass
class PropertyDetail:
    """A property with what hangs on it, as its page shows it."""

    property: Property
    credits: list[CreditLink] = field(default_factory=list)
    registrations: list[MortgageRegistration] = field(default_factory=list)
    documents: list[PropertyDocument] = field(default_factory=list)
    latest_valuation: Valuation | None = None
    valuations: list[Valuation] = field(default_factory=list)

    def __getattr__(self, name):  # the property's own columns, for the response schema
        if name == "property":
            raise AttributeError(name)
        return getattr(self.property, name)


def list_properties(
    session: Session,
    actor: Actor,
    *,
    city: str | None = None,
    community: str | None = None,
    rm_user_id: int | None = None,
    owner_org_id: int | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    stmt = access.scope(select(Property), actor)
    if city:
        stmt = stmt.where(Property.city == city)
    if community:
        stmt = stmt.where(Property.community == community)
    if rm_user_id is not None:
        stmt = stmt.where(Property.rm_user_id == rm_user_id)
    if owner_org_id is not None:
        stmt = stmt.where(Property.owner_org_id == owner_org_id)
    if status:
        stmt = stmt.where(Property.status == status)
    return paginate(session, stmt, Property.id, limit=limit, cursor=cursor, descending=True)


def get_property(session: Session, actor: Actor, property_id: int) -> PropertyDetail:
    prop = access.get_property(session, actor, property_id)
    by_property = {"property_id": prop.id}
    credits = session.scalars(select(CreditLink).filter_by(**by_property).order_by(CreditLink.id))
    registrations = session.scalars(
        select(MortgageRegistration)
        .filter_by(**by_property)
        .order_by(MortgageRegistration.id.desc())
    )
    documents = session.scalars(
        select(PropertyDocument).filter_by(**by_property).order_by(PropertyDocument.id)
    )
    valuations = list(
        session.scalars(
            select(Valuation).filter_by(**by_property).order_by(Valuation.id.desc()).limit(HISTORY)
        )
    )
    latest = None
    if prop.latest_valuation_id is not None:
        latest = next((v for v in valuations if v.id == prop.latest_valuation_id), None)
        latest = latest or session.get(Valuation, prop.latest_valuation_id)
    credits = list(credits)
    for link in credits:  # third-party collateral: the owner is not the borrower
        link.third_party = link.borrower_org_id != prop.owner_org_id
    return PropertyDetail(
        property=prop,
        credits=credits,
        registrations=list(registrations),
        documents=list(documents),
        latest_valuation=latest,
        valuations=valuations,
    )


def list_registrations(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Registrations of the properties the caller may see (a checker's queue: pending)."""
    visible = access.scope(select(Property.id), actor)
    stmt = select(MortgageRegistration).where(MortgageRegistration.property_id.in_(visible))
    if status:
        stmt = stmt.where(MortgageRegistration.status == status)
    return paginate(
        session, stmt, MortgageRegistration.id, limit=limit, cursor=cursor, descending=True
    )
