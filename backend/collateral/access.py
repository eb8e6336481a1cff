"""Who may see and change which collateral.

A relationship manager sees only the properties of their own clients (``rm_user_id``), with
their credit links, registrations, documents and valuations; approvers and admins see every
property; a borrower's own users (a dealer, an enterprise) see their org's properties, read
only. Anyone else, and an RM asking for another RM's client's property, gets "not found", so
that a property's existence does not leak. Changes are bank staff's: RMs for their own
clients, approvers (checkers) and admins for all.
"""

from __future__ import annotations

from sqlalchemy import Select, false
from sqlalchemy.orm import Session

from backend.collateral.models import Property
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.permissions import ensure_role

SEES_ALL = ("approver", "admin")
STAFF = ("rm", "approver", "admin")


def can_see(actor: Actor, prop: Property) -> bool:
    if actor.role in SEES_ALL or actor.is_admin:
        return True
    if actor.role == "rm":
        return prop.rm_user_id is not None and prop.rm_user_id == actor.user_id
    if actor.is_bank_staff:  # tellers have no business with collateral
        return False
    return actor.org_id is not None and prop.owner_org_id == actor.org_id


def scope(stmt: Select, actor: Actor) -> Select:
    """Only the properties the caller may see (a select over ``Property``)."""
    if actor.role in SEES_ALL or actor.is_admin:
        return stmt
    if actor.role == "rm":
        return stmt.where(Property.rm_user_id == actor.user_id)
    if actor.is_bank_staff or actor.org_id is None:
        return stmt.where(false())
    return stmt.where(Property.owner_org_id == actor.org_id)


def get_property(session: Session, actor: Actor, property_id: int, *, lock: bool = False):
    """The property, if the caller may see it; else NotFound ``property_not_found``."""
    prop = session.get(Property, property_id, with_for_update=lock, populate_existing=lock)
    if prop is None or not can_see(actor, prop):
        raise NotFound("property not found", code="property_not_found")
    return prop


def property_to_change(session: Session, actor: Actor, property_id: int) -> Property:
    """Visible (else 404), the caller is bank staff who may change it (else 403), locked."""
    get_property(session, actor, property_id)
    ensure_role(actor, *STAFF)
    return get_property(session, actor, property_id, lock=True)
