"""The one permission helper every endpoint and service uses.

An object names the orgs that may see it (its owner, and e.g. for a financed car the dealer,
the OEM and the supervising warehouse company).  Bank staff see every org's objects; everyone
else sees an object only when their org is among its orgs.  An object the caller may not see is
reported as *not found*, so that its existence does not leak; a visible object the caller's role
may not change is *forbidden*.
"""

from __future__ import annotations

from collections.abc import Iterable

from backend.platform.context import Actor
from backend.platform.errors import NotFound, PermissionDenied


def can_see(actor: Actor, org_ids: Iterable[int | None]) -> bool:
    if actor.is_bank_staff:
        return True
    return actor.org_id is not None and actor.org_id in set(org_ids)


def ensure_visible(
    actor: Actor, obj: object | None, org_ids: Iterable[int | None], what: str
) -> None:
    """Raise NotFound when ``obj`` is missing or belongs to orgs the caller may not see."""
    if obj is None or not can_see(actor, org_ids):
        raise NotFound(f"{what} not found", code=f"{what.replace(' ', '_')}_not_found")


def ensure_role(actor: Actor, *roles: str) -> None:
    """Raise PermissionDenied unless the caller has one of ``roles`` (admin always passes)."""
    if actor.role not in roles and not actor.is_admin:
        raise PermissionDenied(
            f"role {actor.role!r} may not do this; needs one of: {', '.join(roles)}",
            details={"required_roles": list(roles)},
        )


def ensure_can_change(
    actor: Actor, obj: object | None, org_ids: Iterable[int | None], what: str, *roles: str
) -> None:
    """Visible (else 404) and the caller's role may change it (else 403)."""
    org_ids = list(org_ids)
    ensure_visible(actor, obj, org_ids, what)
    ensure_role(actor, *roles)
