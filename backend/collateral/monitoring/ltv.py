"""Loan-to-value per credit, exact in integer basis points, and what a rise over the
product's thresholds sets off.

The rule (docs/collateral.md, "Monitoring"):

- A credit is ``(credit_kind, credit_ref)``; its ``col_credit_links`` rows name the properties
  securing it (one row per property), each carrying the credit's outstanding and LTV.
- Only active links of active properties with a latest value count. A property that secures
  several credits has its value *allocated pro rata to their outstanding* (equal shares when
  all are zero), so nothing is counted twice: a credit's LTV is its outstanding over the sum of
  the shares it gets. Two credits sharing one property thus both show the combined LTV
  (outstanding of both over the property's value), the figure a bank's credit policy uses.
- ``ltv_bp = round_half_up(10000 * outstanding / allocated value)``, computed with fractions
  (no float, no intermediate rounding); a credit with no valued property has no LTV.
- The level is the highest threshold of the product's policy the LTV reaches. A level that
  rises to alarm or block raises one ``ltv_breach`` risk event on the borrower (high; critical
  at block where the product blocks), once per credit, level and day (``external_id``). A
  retail client's loan has no enterprise to flag: it appears on the RM's alert list only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral.access import STAFF, get_property
from backend.collateral.models import CreditLink, Property
from backend.collateral.monitoring.policy import LEVELS, POLICY, LtvPolicy
from backend.identity.models import Org
from backend.platform.audit import record
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, NotFound, ValidationFailed
from backend.platform.money import format_money, parse_money
from backend.platform.permissions import ensure_role
from backend.platform.ports import FactoringExposure, FloorplanExposure, RiskEvents
from backend.platform.wiring import port

CreditKey = tuple[str, str]  # (credit_kind, credit_ref)
RETAIL_ORG_CODES = frozenset({"CLIENTS"})  # the retail clients' org: persons, no enterprise
REPORTED_KINDS = ("loan",)  # outstanding reported to us; the others read through their ports
PORTS = {"floorplan_line": FloorplanExposure, "factoring_agreement": FactoringExposure}


def ltv_bp(outstanding: Decimal | Fraction, value: Decimal | Fraction) -> int | None:
    """``round_half_up(10000 * outstanding / value)``; None when there is no value."""
    if value <= 0:
        return None
    ratio = Fraction(outstanding) * 10000 / Fraction(value)
    return int((ratio * 2 + 1) // 2)


def allocate(
    credit_outstanding: dict[CreditKey, Decimal],
    property_credits: dict[int, list[CreditKey]],
    property_value: dict[int, Decimal],
) -> dict[CreditKey, Fraction]:
    """Each property's value split over the credits it secures, pro rata to outstanding."""
    shares: dict[CreditKey, Fraction] = defaultdict(Fraction)
    for prop_id, credits in property_credits.items():
        value = property_value.get(prop_id)
        if value is None or value <= 0 or not credits:
            continue
        total = sum((Fraction(credit_outstanding[c]) for c in credits), Fraction(0))
        for credit in credits:
            if total > 0:
                shares[credit] += Fraction(value) * Fraction(credit_outstanding[credit]) / total
            else:
                shares[credit] += Fraction(value) / len(credits)
    return shares


def _rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def _active_links(session: Session, where) -> list[tuple[CreditLink, Property]]:
    stmt = (
        select(CreditLink, Property)
        .join(Property, Property.id == CreditLink.property_id)
        .where(CreditLink.status == "active", Property.status == "active", *where)
        .order_by(CreditLink.id)
    )
    return [(link, prop) for link, prop in session.execute(stmt)]


def _affected(session: Session, credits: Iterable[CreditKey] | None):
    """The links needed to recompute ``credits`` and every credit sharing a property with one
    (their LTV moves with the allocation), or the whole book for None."""
    if credits is None:
        return _active_links(session, ())
    keys = set(credits)
    if not keys:
        return []
    kinds = {k for k, _ in keys}
    refs = {r for _, r in keys}
    first = [
        (link, prop)
        for link, prop in _active_links(
            session, (CreditLink.credit_kind.in_(kinds), CreditLink.credit_ref.in_(refs))
        )
        if (link.credit_kind, link.credit_ref) in keys
    ]
    props = {prop.id for _, prop in first}
    if not props:
        return first
    sharing = _active_links(session, (CreditLink.property_id.in_(props),))
    keys |= {(link.credit_kind, link.credit_ref) for link, _ in sharing}
    kinds = {k for k, _ in keys}
    refs = {r for _, r in keys}
    theirs = [
        (link, prop)
        for link, prop in _active_links(
            session, (CreditLink.credit_kind.in_(kinds), CreditLink.credit_ref.in_(refs))
        )
        if (link.credit_kind, link.credit_ref) in keys
    ]
    # the allocation of each of their properties needs every credit on it
    all_props = {prop.id for _, prop in theirs}
    return _active_links(session, (CreditLink.property_id.in_(all_props),))


def recompute(
    session: Session,
    actor: Actor,
    *,
    credits: Iterable[CreditKey] | None = None,
    now: datetime | None = None,
    policy: LtvPolicy = POLICY,
) -> dict:
    """Recompute the LTV and level of ``credits`` (None: the whole book) and of the credits
    sharing a property with them; raise the risk events of levels that rose. Flushes, never
    commits. Returns counts and the level changes."""
    now = now or utcnow()
    rows = _affected(session, credits)
    links_of: dict[CreditKey, list[CreditLink]] = defaultdict(list)
    property_credits: dict[int, list[CreditKey]] = defaultdict(list)
    property_value: dict[int, Decimal] = {}
    for link, prop in rows:
        key = (link.credit_kind, link.credit_ref)
        links_of[key].append(link)
        property_credits[prop.id].append(key)
        if prop.latest_value is not None:
            property_value[prop.id] = prop.latest_value
    outstanding = {key: max(link.outstanding for link in links) for key, links in links_of.items()}
    shares = allocate(outstanding, property_credits, property_value)
    wanted = None if credits is None else _wanted(credits, property_credits, links_of)
    changes, events, counts = [], 0, dict.fromkeys(("ok", "warn", "alarm", "block", "none"), 0)
    for key, links in links_of.items():
        if wanted is not None and key not in wanted:
            continue
        product = policy.of(key[0])
        bp = ltv_bp(outstanding[key], shares.get(key, Fraction(0)))
        level = product.level(bp)
        counts[level or "none"] += 1
        old_level = links[0].ltv_level
        old_bp = links[0].ltv_bp
        for link in links:
            link.ltv_bp, link.ltv_level, link.ltv_at = bp, level, now
        if level == old_level:
            continue
        change = {
            "credit_kind": key[0],
            "credit_ref": key[1],
            "from": old_level,
            "to": level,
            "ltv_bp": bp,
            "outstanding": format_money(outstanding[key]),
        }
        changes.append(change)
        record(
            session,
            actor,
            "collateral.ltv_level_changed",
            "col_credit",
            f"{key[0]}:{key[1]}",
            {"ltv_bp": old_bp, "ltv_level": old_level},
            {"ltv_bp": bp, "ltv_level": level, "policy_version": policy.version},
        )
        rose = _rank(level) > _rank(old_level) and product.severity(level) is not None
        if rose and _raise_breach(
            session, actor, links[0], level, bp, outstanding[key], now, policy
        ):
            events += 1
    session.flush()
    return {
        "credits": sum(counts.values()),
        "levels": counts,
        "changes": changes,
        "risk_events": events,
        "policy_version": policy.version,
    }


def _wanted(credits, property_credits, links_of) -> set[CreditKey]:
    keys = set(credits)
    props = {
        p for p, cs in property_credits.items() if any(c in keys for c in cs)
    }  # properties of the asked credits
    return keys | {c for p in props for c in property_credits[p]}


def _raise_breach(
    session: Session,
    actor: Actor,
    link: CreditLink,
    level: str,
    bp: int | None,
    outstanding: Decimal,
    now: datetime,
    policy: LtvPolicy,
) -> bool:
    org = session.get(Org, link.borrower_org_id)
    if org is None or org.code in RETAIL_ORG_CODES:
        return False  # a person's loan: the RM's alert list shows it
    port(session, RiskEvents).record_internal_event(
        session,
        actor,
        org_id=link.borrower_org_id,
        source="collateral",
        kind="ltv_breach",
        severity=policy.of(link.credit_kind).severity(level),
        data={"ltv_bp": bp, "amount": format_money(outstanding)},
        source_time=now,
        external_id=f"col:ltv:{link.credit_kind}:{link.credit_ref}:{level}:{now.date()}",
    )
    return True


# --------------------------------------------------------------------------- outstanding


def _credit_links(session: Session, kind: str, ref: str, *, lock: bool = False):
    stmt = select(CreditLink).where(
        CreditLink.credit_kind == kind, CreditLink.credit_ref == ref, CreditLink.status == "active"
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt.order_by(CreditLink.id)))


def visible_link(session: Session, actor: Actor, link_id: int) -> CreditLink:
    """The credit link, if the caller may see its property; else 404 ``credit_not_found``."""
    link = session.get(CreditLink, link_id)
    if link is None:
        raise NotFound("credit not found", code="credit_not_found")
    try:
        get_property(session, actor, link.property_id)
    except NotFound:
        raise NotFound("credit not found", code="credit_not_found") from None
    return link


def report_outstanding(
    session: Session,
    actor: Actor,
    link_id: int,
    amount: object,
    *,
    now: datetime | None = None,
) -> CreditLink:
    """A loan's outstanding as the core banking system reports it (bank staff who may change
    the property). Set on every active link of the loan; the same value again changes nothing
    (no audit, no recompute); a new one recomputes the loan's LTV and its neighbours'."""
    link = visible_link(session, actor, link_id)
    ensure_role(actor, *STAFF)
    value = parse_money(amount, field="outstanding")
    if value < 0:
        raise ValidationFailed(
            "outstanding must not be negative",
            code="validation_error",
            details={"outstanding": ["must be >= 0"]},
        )
    if link.credit_kind not in REPORTED_KINDS:
        raise BusinessRuleViolation(
            f"the outstanding of a {link.credit_kind} is read from its product, not reported",
            code="outstanding_read_from_product",
            details={"credit_kind": link.credit_kind},
        )
    if link.status != "active":
        raise BusinessRuleViolation("the credit link is released", code="credit_link_released")
    now = now or utcnow()
    links = _credit_links(session, link.credit_kind, link.credit_ref, lock=True)
    if all(x.outstanding == value for x in links):
        return link
    before = {"outstanding": format_money(links[0].outstanding)}
    for x in links:
        x.outstanding, x.outstanding_at = value, now
    record(
        session,
        actor,
        "collateral.outstanding_reported",
        "col_credit",
        f"{link.credit_kind}:{link.credit_ref}",
        before,
        {"outstanding": format_money(value), "links": [x.id for x in links]},
    )
    session.flush()
    recompute(session, actor, credits=[(link.credit_kind, link.credit_ref)], now=now)
    return link


def refresh_exposures(session: Session, actor: Actor, *, now: datetime | None = None) -> dict:
    """Read the outstanding of every floor-plan line and factoring agreement that a property
    secures through their products' ports; a changed one is set and audited."""
    now = now or utcnow()
    changed, missing, read = [], [], 0
    for kind, port_type in PORTS.items():
        links = session.scalars(
            select(CreditLink)
            .where(CreditLink.credit_kind == kind, CreditLink.status == "active")
            .order_by(CreditLink.id)
        )
        by_ref: dict[str, list[CreditLink]] = defaultdict(list)
        for link in links:
            by_ref[link.credit_ref].append(link)
        product = port(session, port_type)
        for ref, group in by_ref.items():
            exposure = product.credit_exposure(session, ref)
            read += 1
            if exposure is None:
                missing.append(f"{kind}:{ref}")
                continue
            value = exposure.outstanding
            if all(x.outstanding == value for x in group):
                for x in group:
                    x.outstanding_at = now
                continue
            before = format_money(group[0].outstanding)
            for x in group:
                x.outstanding, x.outstanding_at = value, now
            changed.append((kind, ref))
            record(
                session,
                actor,
                "collateral.outstanding_refreshed",
                "col_credit",
                f"{kind}:{ref}",
                {"outstanding": before},
                {"outstanding": format_money(value)},
            )
    session.flush()
    return {"read": read, "changed": len(changed), "missing": missing}
