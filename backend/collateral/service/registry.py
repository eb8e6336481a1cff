"""The collateral registry's use cases: properties, the credit they secure, mortgage
registrations (maker-checker) and documents by reference.

Every use case finds the property through ``backend.collateral.access`` (not visible: 404;
visible but not the caller's to change: 403), raises ``backend.platform.errors`` with a
snake_case code, never commits, and writes one audit record per change.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral import access, modelstore
from backend.collateral.models import CreditLink, MortgageRegistration, Property, PropertyDocument
from backend.collateral.valuer import FACT_FIELDS, check_facts
from backend.identity.models import Org, User
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.money import parse_money
from backend.platform.permissions import ensure_role
from backend.platform.ports import FactoringExposure, FloorplanExposure
from backend.platform.wiring import port

CREDIT_KINDS = ("floorplan_line", "factoring_agreement", "loan")
DOCUMENT_KINDS = ("title_deed", "mortgage_certificate", "appraisal", "photo", "other")
CHECKERS = ("approver", "admin")
INT64 = 2**63

CREDIT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,59}", re.ASCII)
CERTIFICATE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff()（）\[\]第号-]{4,60}")
CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{2,39}", re.ASCII)
# where a document may live: an https URL, an S3 object, or the bank's document store's id
DOCUMENT_URI = re.compile(
    r"(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[^\s]{0,450}"
    r"|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\s]{1,400}"
    r"|docstore:[A-Za-z0-9][A-Za-z0-9._-]{5,80})",
    re.ASCII,
)
SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)

# the valuer's facts (the address is the registry's own, checked here); a registered property
# has every one but lat and lon (its columns are NOT NULL)
FIELDS = tuple(name for name in FACT_FIELDS if name != "address")
REGISTERED = tuple(name for name in FIELDS if name not in ("lat", "lon"))


def validate_facts(session: Session, facts: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The valuer's own check (``valuer.check_facts``, against the champion's cities), plus
    what a registered property must have. ValidationFailed with every problem per field."""
    errors: dict[str, list[str]] = {
        name: ["required"]
        for name in REGISTERED
        if facts.get(name) is None or (isinstance(facts[name], str) and not facts[name].strip())
    }
    current = modelstore.champion(session)
    cities = current[1].coverage.get("cities") if current is not None else None
    try:
        clean = check_facts(dict(facts), now=now, coverage_cities=cities)
    except ValidationFailed as exc:
        for name, problems in exc.details.items():
            errors[name] = list(dict.fromkeys([*errors.get(name, []), *problems]))
        clean = {}
    if errors:
        raise ValidationFailed("the property's facts are not valid", details=errors)
    return clean


def _released(session: Session, actor: Actor, obj, action: str, kind: str, now):
    """An active property or credit link set released, audited (active -> released)."""
    obj.status = "released"
    obj.updated_at = now or utcnow()
    before, after = {"status": "active"}, {"status": "released"}
    audit.record(session, actor, action, kind, obj.id, before=before, after=after)
    return obj


# --------------------------------------------------------------------------- views (audit)


def property_facts(prop: Property) -> dict[str, Any]:
    return {name: getattr(prop, name) for name in FIELDS}


def _property_view(prop: Property) -> dict[str, Any]:
    return {
        "code": prop.code,
        "owner_org_id": prop.owner_org_id,
        "owner_name": prop.owner_name,
        "rm_user_id": prop.rm_user_id,
        "address": prop.address,
        "status": prop.status,
        **property_facts(prop),
    }


def _link_view(link: CreditLink) -> dict[str, Any]:
    return {
        "property_id": link.property_id,
        "credit_kind": link.credit_kind,
        "credit_ref": link.credit_ref,
        "borrower_org_id": link.borrower_org_id,
        "outstanding": link.outstanding,
        "status": link.status,
    }


# --------------------------------------------------------------------------- properties


def _text(value: Any, name: str, limit: int, errors: dict, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        errors.setdefault(name, []).append("a non-empty text")
        return ""
    if len(value.strip()) > limit:
        errors.setdefault(name, []).append(f"at most {limit} characters")
        return ""
    return value.strip()


def _id(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < INT64:
        raise ValidationFailed(f"{name} is not an id", details={name: ["an id"]})
    return value


def _owner(session: Session, org_id: Any) -> Org:
    org = session.get(Org, _id(org_id, "owner_org_id"))
    if org is None or org.kind in ("bank", "branch"):
        raise NotFound("owner org not found", code="org_not_found")
    return org


def _rm_for(session: Session, actor: Actor, rm_user_id: Any) -> int | None:
    """An RM registers for themselves; approvers and admins may name any active RM."""
    if actor.role == "rm" and not actor.is_admin:
        if rm_user_id is not None and rm_user_id != actor.user_id:
            raise PermissionDenied(
                "an RM registers collateral for their own clients only",
                code="rm_assignment_forbidden",
            )
        return actor.user_id
    if rm_user_id is None:
        return None
    user = session.get(User, _id(rm_user_id, "rm_user_id"))
    if user is None or user.role != "rm" or not user.active:
        raise NotFound("relationship manager not found", code="rm_not_found")
    return user.id


def register_property(
    session: Session,
    actor: Actor,
    *,
    facts: Mapping[str, Any],
    address: str,
    owner_org_id: int,
    owner_name: str | None = None,
    rm_user_id: int | None = None,
    code: str | None = None,
    now: datetime | None = None,
) -> Property:
    """A property offered as collateral, with the facts a valuation reads (bank staff)."""
    ensure_role(actor, *access.STAFF)
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    try:
        clean = validate_facts(session, {k: v for k, v in facts.items() if k in FIELDS}, now)
    except ValidationFailed as exc:
        errors.update(exc.details)
        clean = {}
    address = _text(address, "address", 300, errors)
    if owner_name is not None:
        owner_name = _text(owner_name, "owner_name", 200, errors)
    if code is not None and (not isinstance(code, str) or not CODE.fullmatch(code)):
        errors.setdefault("code", []).append("A-Z, 0-9 and '-', 3 to 40 characters")
    if errors:
        raise ValidationFailed("the property is not valid", details=errors)
    owner = _owner(session, owner_org_id)
    rm_id = _rm_for(session, actor, rm_user_id)
    code = code or f"COL-{now:%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"
    if session.scalar(select(Property.id).where(Property.code == code)) is not None:
        raise Conflict("a property with this code exists", code="property_code_taken")
    prop = Property(
        code=code,
        owner_org_id=owner.id,
        owner_name=owner_name or owner.name,
        rm_user_id=rm_id,
        address=address,
        status="active",
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
        **{"lat": None, "lon": None, **clean},
    )
    session.add(prop)
    session.flush()
    audit.record(
        session,
        actor,
        "collateral.property_registered",
        "col_property",
        prop.id,
        after=_property_view(prop),
    )
    return prop


EDITABLE = (*FIELDS, "address", "owner_name", "rm_user_id")


def update_property(
    session: Session,
    actor: Actor,
    property_id: int,
    changes: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Property:
    """Correct a property's facts (or address, owner name, RM); the whole is checked again
    and the audit record keeps what changed, before and after."""
    prop = access.property_to_change(session, actor, property_id)
    now = now or utcnow()
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed("unknown fields", details={k: ["unknown field"] for k in unknown})
    if prop.status != "active":
        raise Conflict("a released property is not changed", code="property_released")
    merged = {**property_facts(prop), **{k: v for k, v in changes.items() if k in FIELDS}}
    errors: dict[str, list[str]] = {}
    try:
        clean = validate_facts(session, merged, now)
    except ValidationFailed as exc:
        errors.update(exc.details)
        clean = {}
    new: dict[str, Any] = {k: clean[k] for k in changes if k in FIELDS and k in clean}
    for k in ("lat", "lon"):
        if k in changes and changes[k] is None:
            new[k] = None
    if "address" in changes:
        new["address"] = _text(changes["address"], "address", 300, errors)
    if "owner_name" in changes:
        new["owner_name"] = _text(changes["owner_name"], "owner_name", 200, errors)
    if errors:
        raise ValidationFailed("the property is not valid", details=errors)
    if "rm_user_id" in changes:
        if changes["rm_user_id"] is None or actor.role == "rm":
            ensure_role(actor, *CHECKERS)
        new["rm_user_id"] = _rm_for(session, actor, changes["rm_user_id"])
    before = {k: getattr(prop, k) for k in new if getattr(prop, k) != new[k]}
    after = {k: new[k] for k in before}
    for k, v in after.items():
        setattr(prop, k, v)
    if after:
        prop.updated_at = now
        audit.record(
            session,
            actor,
            "collateral.property_updated",
            "col_property",
            prop.id,
            before=before,
            after=after,
        )
    return prop


def release_property(
    session: Session, actor: Actor, property_id: int, *, now: datetime | None = None
) -> Property:
    """Take a property off the register: only when it secures no live credit and no mortgage
    on it is pending or still registered."""
    prop = access.property_to_change(session, actor, property_id)
    if prop.status != "active":
        raise Conflict("the property is already released", code="property_released")
    active = session.scalars(
        select(CreditLink.id).where(
            CreditLink.property_id == prop.id, CreditLink.status == "active"
        )
    ).all()
    if active:
        raise BusinessRuleViolation(
            "the property still secures a credit",
            code="property_has_active_credit",
            details={"credit_link_ids": list(active)},
        )
    open_regs = session.execute(
        select(MortgageRegistration.id, MortgageRegistration.status).where(
            MortgageRegistration.property_id == prop.id,
            MortgageRegistration.status.in_(("pending", "registered")),
        )
    ).all()
    if open_regs:
        pending = any(status == "pending" for _, status in open_regs)
        raise BusinessRuleViolation(
            "a mortgage on the property is pending" if pending else "a mortgage is registered",
            code="registration_pending" if pending else "mortgage_registered",
            details={"registration_ids": [i for i, _ in open_regs]},
        )
    return _released(session, actor, prop, "collateral.property_released", "col_property", now)


# --------------------------------------------------------------------------- credit links


def link_credit(
    session: Session,
    actor: Actor,
    property_id: int,
    *,
    credit_kind: str,
    credit_ref: str,
    outstanding: Decimal | str | None = None,
    borrower_org_id: int | None = None,
    now: datetime | None = None,
) -> CreditLink:
    """The property secures a credit: a floor-plan line (``credit_ref`` its id) or a factoring
    agreement (its code), read through their areas' ports (borrower and outstanding from
    there), or a loan of the core banking system (loan number, outstanding as reported and
    the borrower given). Owner and borrower may differ: third-party collateral, recorded."""
    if credit_kind not in CREDIT_KINDS:
        raise ValidationFailed(
            "unknown credit kind", details={"credit_kind": [f"one of {', '.join(CREDIT_KINDS)}"]}
        )
    if not isinstance(credit_ref, str) or not CREDIT_REF.fullmatch(credit_ref):
        raise ValidationFailed(
            "credit_ref is not a reference",
            details={"credit_ref": ["1 to 60 characters: letters, digits, . _ / -"]},
        )
    now = now or utcnow()
    prop = access.property_to_change(session, actor, property_id)
    if credit_kind == "loan":
        errors = {}
        if outstanding is None:
            errors["outstanding"] = ["required for a loan"]
        if borrower_org_id is None:
            errors["borrower_org_id"] = ["required for a loan"]
        if errors:
            raise ValidationFailed("a loan needs its outstanding and borrower", details=errors)
        amount = parse_money(outstanding, field="outstanding")
        if amount < 0:
            raise ValidationFailed("outstanding is negative", details={"outstanding": [">= 0"]})
        borrower = _owner(session, borrower_org_id).id
        active = True
    else:
        given = (("outstanding", outstanding), ("borrower_org_id", borrower_org_id))
        extra = {k: ["only for a loan"] for k, v in given if v is not None}
        if extra:
            raise ValidationFailed("read from the credit's own area", details=extra)
        kind_port = FloorplanExposure if credit_kind == "floorplan_line" else FactoringExposure
        exposure = port(session, kind_port).credit_exposure(session, credit_ref)
        if exposure is None:
            raise NotFound("credit not found", code="credit_not_found")
        amount, borrower, active = exposure.outstanding, exposure.borrower_org_id, exposure.active
    if not active:
        raise BusinessRuleViolation("the credit is not active", code="credit_inactive")
    if prop.status != "active":
        raise Conflict("a released property secures nothing", code="property_released")
    link = session.scalar(
        select(CreditLink).where(
            CreditLink.property_id == prop.id,
            CreditLink.credit_kind == credit_kind,
            CreditLink.credit_ref == credit_ref,
        )
    )
    before = None
    if link is not None:
        if link.status == "active":
            raise Conflict(
                "the property already secures this credit",
                code="credit_already_linked",
                details={"credit_link_id": link.id},
            )
        before = _link_view(link)
        link.status, link.borrower_org_id = "active", borrower
        link.outstanding, link.outstanding_at, link.updated_at = amount, now, now
        link.ltv_bp = link.ltv_level = link.ltv_at = None
    else:
        link = CreditLink(
            property_id=prop.id,
            credit_kind=credit_kind,
            credit_ref=credit_ref,
            borrower_org_id=borrower,
            outstanding=amount,
            outstanding_at=now,
            status="active",
            created_by_user_id=actor.user_id,
            created_at=now,
            updated_at=now,
        )
        session.add(link)
    session.flush()
    audit.record(
        session,
        actor,
        "collateral.credit_linked",
        "col_credit_link",
        link.id,
        before=before,
        after={**_link_view(link), "third_party": borrower != prop.owner_org_id},
    )
    return link


def credit_link_of(session: Session, actor: Actor, link_id: int, *, lock: bool = False):
    """The link and its property, if the caller may see the property (else 404)."""
    link = session.get(CreditLink, link_id, with_for_update=lock)
    if link is None:
        raise NotFound("credit link not found", code="credit_link_not_found")
    try:
        prop = access.get_property(session, actor, link.property_id)
    except NotFound:
        raise NotFound("credit link not found", code="credit_link_not_found") from None
    return link, prop


def release_credit(
    session: Session, actor: Actor, link_id: int, *, now: datetime | None = None
) -> CreditLink:
    """The credit no longer relies on the property (repaid, or other security): the link is
    released; a mortgage registered for it can then be released too."""
    link, prop = credit_link_of(session, actor, link_id)
    access.property_to_change(session, actor, prop.id)
    link = session.get(CreditLink, link.id, with_for_update=True, populate_existing=True)
    if link.status != "active":
        raise Conflict("the credit link is already released", code="credit_link_released")
    pending = session.scalar(
        select(MortgageRegistration.id).where(
            MortgageRegistration.credit_link_id == link.id,
            MortgageRegistration.status == "pending",
        )
    )
    if pending is not None:
        raise BusinessRuleViolation(
            "a mortgage registration for this credit is pending",
            code="registration_pending",
            details={"registration_id": pending},
        )
    return _released(session, actor, link, "collateral.credit_released", "col_credit_link", now)


# --------------------------------------------------------------------------- registrations


def record_registration(
    session: Session,
    actor: Actor,
    property_id: int,
    *,
    certificate_no: str,
    registered_on: date,
    credit_link_id: int | None = None,
    now: datetime | None = None,
) -> MortgageRegistration:
    """The maker (an RM, an approver) records the mortgage registered at the real-estate
    registry: pending until a checker who is not the maker approves it."""
    now = now or utcnow()
    errors = {}
    if not isinstance(certificate_no, str) or not CERTIFICATE.fullmatch(certificate_no.strip()):
        errors["certificate_no"] = ["4 to 60 characters: letters, digits, 第 号 ( ) -"]
    if not isinstance(registered_on, date) or registered_on > now.date():
        errors["registered_on"] = ["a date, not in the future"]
    if errors:
        raise ValidationFailed("the registration is not valid", details=errors)
    prop = access.property_to_change(session, actor, property_id)
    if prop.status != "active":
        raise Conflict("a released property is not mortgaged", code="property_released")
    if credit_link_id is not None:
        link = session.get(CreditLink, _id(credit_link_id, "credit_link_id"))
        if link is None or link.property_id != prop.id:
            raise NotFound("credit link not found", code="credit_link_not_found")
        if link.status != "active":
            raise Conflict("the credit link is released", code="credit_link_released")
    pending = session.scalar(
        select(MortgageRegistration.id).where(
            MortgageRegistration.property_id == prop.id,
            MortgageRegistration.status == "pending",
        )
    )
    if pending is not None:
        raise Conflict(
            "a registration of this property is already pending",
            code="registration_pending",
            details={"registration_id": pending},
        )
    reg = MortgageRegistration(
        property_id=prop.id,
        credit_link_id=credit_link_id,
        status="pending",
        certificate_no=certificate_no.strip(),
        registered_on=registered_on,
        maker_user_id=actor.user_id,
        created_at=now,
    )
    session.add(reg)
    session.flush()
    audit.record(
        session,
        actor,
        "collateral.registration_recorded",
        "col_registration",
        reg.id,
        after=_registration_view(reg),
    )
    return reg


def _registration_view(reg: MortgageRegistration) -> dict[str, Any]:
    return {
        "property_id": reg.property_id,
        "credit_link_id": reg.credit_link_id,
        "status": reg.status,
        "certificate_no": reg.certificate_no,
        "registered_on": reg.registered_on,
        "maker_user_id": reg.maker_user_id,
        "checker_user_id": reg.checker_user_id,
        "reason": reg.reason,
    }


def registration_of(session: Session, actor: Actor, registration_id: int):
    reg = session.get(MortgageRegistration, registration_id)
    if reg is None:
        raise NotFound("registration not found", code="registration_not_found")
    try:
        prop = access.get_property(session, actor, reg.property_id)
    except NotFound:
        raise NotFound("registration not found", code="registration_not_found") from None
    return reg, prop


def _to_decide(session: Session, actor: Actor, registration_id: int) -> MortgageRegistration:
    reg, prop = registration_of(session, actor, registration_id)
    access.property_to_change(session, actor, prop.id)
    ensure_role(actor, *CHECKERS)
    reg = session.get(MortgageRegistration, reg.id, with_for_update=True, populate_existing=True)
    if reg.maker_user_id == actor.user_id:
        raise PermissionDenied(
            "the maker of a registration may not check it", code="maker_checker_violation"
        )
    if reg.status != "pending":
        raise Conflict(
            f"the registration is {reg.status}, not pending",
            code="registration_not_pending",
            details={"status": reg.status},
        )
    return reg


def approve_registration(
    session: Session, actor: Actor, registration_id: int, *, now: datetime | None = None
) -> MortgageRegistration:
    """A checker (approver, admin) who is not the maker confirms it: registered."""
    reg = _to_decide(session, actor, registration_id)
    before = _registration_view(reg)
    reg.status, reg.checker_user_id, reg.decided_at = "registered", actor.user_id, now or utcnow()
    audit.record(
        session,
        actor,
        "collateral.registration_approved",
        "col_registration",
        reg.id,
        before=before,
        after=_registration_view(reg),
    )
    return reg


def reject_registration(
    session: Session,
    actor: Actor,
    registration_id: int,
    *,
    reason: str,
    now: datetime | None = None,
) -> MortgageRegistration:
    """A checker who is not the maker sends it back, with the reason."""
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > 300:
        raise ValidationFailed("a reason is needed", details={"reason": ["1 to 300 characters"]})
    reg = _to_decide(session, actor, registration_id)
    before = _registration_view(reg)
    reg.status, reg.checker_user_id, reg.decided_at = "rejected", actor.user_id, now or utcnow()
    reg.reason = reason.strip()
    audit.record(
        session,
        actor,
        "collateral.registration_rejected",
        "col_registration",
        reg.id,
        before=before,
        after=_registration_view(reg),
    )
    return reg


def release_registration(
    session: Session, actor: Actor, registration_id: int, *, now: datetime | None = None
) -> MortgageRegistration:
    """The registered mortgage is released at the registry once the credit it secured is:
    its credit link released (or, without one, no credit on the property still active)."""
    reg, prop = registration_of(session, actor, registration_id)
    access.property_to_change(session, actor, prop.id)
    reg = session.get(MortgageRegistration, reg.id, with_for_update=True, populate_existing=True)
    if reg.status != "registered":
        raise Conflict(
            f"the registration is {reg.status}, not registered",
            code="registration_not_registered",
            details={"status": reg.status},
        )
    live = select(CreditLink.id).where(CreditLink.status == "active")
    if reg.credit_link_id is not None:
        live = live.where(CreditLink.id == reg.credit_link_id)
    else:
        live = live.where(CreditLink.property_id == prop.id)
    still = session.scalars(live).all()
    if still:
        raise BusinessRuleViolation(
            "the credit the mortgage secures is still active",
            code="credit_link_active",
            details={"credit_link_ids": list(still)},
        )
    before = _registration_view(reg)
    reg.status = "released"
    reg.decided_at = now or utcnow()
    audit.record(
        session,
        actor,
        "collateral.registration_released",
        "col_registration",
        reg.id,
        before=before,
        after=_registration_view(reg),
    )
    return reg


# --------------------------------------------------------------------------- documents


def add_document(
    session: Session,
    actor: Actor,
    property_id: int,
    *,
    kind: str,
    uri: str,
    sha256: str,
    now: datetime | None = None,
) -> PropertyDocument:
    """A document about the property, by reference: where it is kept and its SHA-256."""
    errors = {}
    if kind not in DOCUMENT_KINDS:
        errors["kind"] = [f"one of {', '.join(DOCUMENT_KINDS)}"]
    if not isinstance(uri, str) or not DOCUMENT_URI.fullmatch(uri):
        errors["uri"] = ["https://host/path, s3://bucket/key or docstore:<id>"]
    digest = sha256.lower() if isinstance(sha256, str) else ""
    if not SHA256.fullmatch(digest):
        errors["sha256"] = ["64 hexadecimal digits"]
    if errors:
        raise ValidationFailed("the document reference is not valid", details=errors)
    prop = access.property_to_change(session, actor, property_id)
    doc = PropertyDocument(
        property_id=prop.id,
        kind=kind,
        uri=uri,
        sha256=digest,
        added_by_user_id=actor.user_id,
        added_at=now or utcnow(),
    )
    session.add(doc)
    session.flush()
    audit.record(
        session,
        actor,
        "collateral.document_added",
        "col_document",
        doc.id,
        after={"property_id": prop.id, "kind": kind, "uri": uri, "sha256": digest},
    )
    return doc
