"""The one valuation use case every part of collateral calls: ``value_facts`` checks a
property's facts, values them with the champion AVM and logs the valuation (``col_valuations``)
with its inputs, the model and the result; with ``property_id`` it also sets the property's
latest value. ``facts_of(prop)`` reads a registered property's facts.

Also the valuation log's read side (``list_valuations``, ``get_valuation``): bank staff who
value (rm, approver, admin); an RM sees the ad-hoc valuations they requested and those of
their own clients' properties (a client moved to another RM takes its valuations along),
approvers and admins all; anything else is 404.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from backend.collateral import access, modelstore
from backend.collateral.avm import factors
from backend.collateral.models import Property, Valuation
from backend.platform import audit
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.errors import BusinessRuleViolation, NotFound, ValidationFailed
from backend.platform.pagination import Page, paginate
from backend.platform.permissions import ensure_role

VALUERS = ("rm", "approver", "admin")
PURPOSES = ("adhoc", "property", "revaluation")
MAX_AREA = Decimal("100000")
TEXT_FIELDS = {"city": 40, "district": 60, "community": 120, "address": 300}
FACT_FIELDS = (
    "city",
    "district",
    "community",
    "address",
    "area_m2",
    "floor",
    "total_floors",
    "build_year",
    "orientation",
    "decoration",
    "rooms",
    "property_type",
    "lat",
    "lon",
)
REQUIRED = ("city", "area_m2", "build_year")


def facts_of(prop: Property) -> dict:
    """A registered property's facts, as ``value_facts`` reads them."""
    return {
        "city": prop.city,
        "district": prop.district,
        "community": prop.community,
        "address": prop.address,
        "area_m2": prop.area_m2,
        "floor": prop.floor,
        "total_floors": prop.total_floors,
        "build_year": prop.build_year,
        "orientation": prop.orientation,
        "decoration": prop.decoration,
        "rooms": prop.rooms,
        "property_type": prop.property_type,
        "lat": prop.lat,
        "lon": prop.lon,
    }


def _int(value, name, errors, low, high):
    if isinstance(value, bool) or value is None:
        errors[name] = ["a whole number"]
        return None
    try:
        if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
            raise ValueError
        number = int(Decimal(str(value)))
        if Decimal(str(value)) != number:
            raise ValueError
    except (ValueError, InvalidOperation, OverflowError):
        errors[name] = ["a whole number"]
        return None
    if not low <= number <= high:
        errors[name] = [f"between {low} and {high}"]
        return None
    return number


def check_facts(facts: dict, *, now: datetime | None = None, coverage_cities=None) -> dict:
    """The facts cleaned (area a Decimal, numbers ints/floats, text stripped), or
    ValidationFailed with one message per bad field."""
    if not isinstance(facts, dict):
        raise ValidationFailed("facts must be an object", details={"facts": ["an object"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(facts) - set(FACT_FIELDS))
    for name in unknown:
        errors[name] = ["unknown field"]
    for name in REQUIRED:  # blank text is not given: "  " is no city
        value = facts.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[name] = ["required"]
    out: dict = {}
    for name, size in TEXT_FIELDS.items():
        value = facts.get(name)
        if value is None or name in errors:
            continue
        if not isinstance(value, str) or len(value.strip()) > size:
            errors[name] = [f"text of at most {size} characters"]
        elif value.strip():  # a blank optional text (district, community) is not given
            out[name] = value.strip()
    area = facts.get("area_m2")
    if area is not None and "area_m2" not in errors:
        try:
            if isinstance(area, bool):
                raise InvalidOperation
            number = Decimal(str(area))
            if not number.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["area_m2"] = ["a number of square metres"]
        else:
            if number > MAX_AREA:
                errors["area_m2"] = [f"at most {MAX_AREA}"]
            elif number.quantize(Decimal("0.01")) <= 0:
                errors["area_m2"] = ["must be more than 0 (to the hundredth of a m²)"]
            else:
                out["area_m2"] = number.quantize(Decimal("0.01"))
    year = (now or utcnow()).year
    if facts.get("build_year") is not None:
        by = _int(facts["build_year"], "build_year", errors, 1800, 9999)
        if by is not None and by > year:
            errors["build_year"] = [f"in the future (after {year})"]
        elif by is not None:
            out["build_year"] = by
    for name, low, high in (("floor", -5, 300), ("total_floors", 1, 300), ("rooms", 0, 100)):
        if facts.get(name) is not None:
            number = _int(facts[name], name, errors, low, high)
            if number is not None:
                out[name] = number
    if "floor" in out and "total_floors" in out and out["floor"] > out["total_floors"]:
        errors["floor"] = [f"above the building's {out['total_floors']} floors"]
    if ("floor" in out) != ("total_floors" in out) and "floor" not in errors:
        errors["floor" if "floor" not in out else "total_floors"] = [
            "floor and total_floors go together"
        ]
    for name, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        value = facts.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            errors[name] = ["a number of degrees"]
        elif not math.isfinite(float(value)) or not low <= float(value) <= high:
            errors[name] = [f"between {low:g} and {high:g}"]
        else:
            out[name] = float(value)
    for name, vocabulary in (
        ("orientation", factors.ORIENTATIONS),
        ("decoration", factors.DECORATIONS),
        ("property_type", factors.PROPERTY_TYPES),
    ):
        value = facts.get(name)
        if value is None:
            continue
        if value not in vocabulary:
            errors[name] = [f"one of: {', '.join(vocabulary)}"]
        else:
            out[name] = value
    city = out.get("city")
    if city and coverage_cities is not None and city not in coverage_cities:
        errors["city"] = [
            f"unknown city {city!r}: the valuation model covers {', '.join(coverage_cities)}"
        ]
    if errors:
        raise ValidationFailed("the property's facts are not valid", details=errors)
    return out


def _json_facts(facts: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in facts.items()}


def _avm_facts(facts: dict) -> dict:
    """Our facts under the AVM's keys (the generated market's identity mapping)."""
    row = {k: v for k, v in facts.items() if k not in ("area_m2", "address")}
    row["area"] = float(facts["area_m2"])
    return row


def _row(model, prop, clean, result, actor, purpose, run_id, now) -> Valuation:
    """The log row of one valuation: its inputs, the model and the result (the methods'
    values, the confidence and the model's version ride in the breakdown)."""
    return Valuation(
        property_id=prop.id if prop is not None else None,
        run_id=run_id,
        model_id=model.id,
        purpose=purpose,
        inputs=_json_facts(clean),
        value=result.value,
        value_low=result.low,
        value_high=result.high,
        confidence_sd=result.confidence_sd,
        blend=result.blend,
        breakdown={
            **result.breakdown,
            "methods": {k: str(v) for k, v in result.methods.items()},
            "confidence": result.confidence,
            "model_version": model.version,
        },
        requested_by_user_id=actor.user_id,
        created_at=now,
    )


def value_facts(
    session: Session,
    actor: Actor,
    facts: dict | None,
    *,
    property_id: int | None = None,
    purpose: str = "adhoc",
    run_id: int | None = None,
    now: datetime | None = None,
) -> Valuation:
    """Value ``facts`` (or the registered property ``property_id``'s) with the champion and log
    it; the ``col_valuations`` row, flushed. ValidationFailed for bad facts or a city the
    champion does not cover; BusinessRuleViolation ``no_avm_model`` without a champion;
    NotFound for a property the caller may not see."""
    ensure_role(actor, *VALUERS)
    if purpose not in PURPOSES:
        raise ValidationFailed("unknown purpose", details={"purpose": list(PURPOSES)})
    now = now or utcnow()
    prop = None
    if property_id is not None:
        prop = access.get_property(session, actor, property_id, lock=True)
        facts = facts_of(prop)
        if purpose == "adhoc":
            purpose = "property"
    current = modelstore.champion(session)
    if current is None:
        # the facts are still checked first, so a bad request is a 400 either way
        check_facts(facts or {}, now=now)
        raise BusinessRuleViolation(
            "no valuation model has been trained yet (finedge collateral train)",
            code="no_avm_model",
        )
    model, trained = current
    clean = check_facts(facts or {}, now=now, coverage_cities=trained.coverage.get("cities"))
    result = trained.value(_avm_facts(clean))
    valuation = _row(model, prop, clean, result, actor, purpose, run_id, now)
    session.add(valuation)
    session.flush()
    after = {"value": str(result.value), "model_id": model.id, "property_id": property_id}
    before = None
    if prop is not None:
        before = {"latest_value": None if prop.latest_value is None else str(prop.latest_value)}
        prop.latest_value = result.value
        prop.latest_valuation_id = valuation.id
        prop.latest_valued_at = now
        prop.updated_at = now
        session.flush()
    audit.record(session, actor, "collateral.valued", "col_valuation", valuation.id, before, after)
    return valuation


def value_properties(
    session: Session,
    actor: Actor,
    property_ids: list[int],
    *,
    purpose: str = "revaluation",
    run_id: int | None = None,
    now: datetime | None = None,
) -> tuple[list[Valuation], dict[int, dict]]:
    """Many registered properties valued at once (a batch revaluation's chunk): the same checks,
    log rows, latest values and audit records as ``value_facts`` one by one, with the model's
    work done in one vectorised call (about ten times faster per property). Returns (the
    valuations, {property_id: error details} for those whose facts do not pass, e.g. a city
    the champion does not cover: skipped, nothing written for them). A property the caller
    may not see is NotFound, as in ``value_facts``."""
    ensure_role(actor, *VALUERS)
    if purpose not in PURPOSES:
        raise ValidationFailed("unknown purpose", details={"purpose": list(PURPOSES)})
    now = now or utcnow()
    current = modelstore.champion(session)
    if current is None:
        raise BusinessRuleViolation(
            "no valuation model has been trained yet (finedge collateral train)",
            code="no_avm_model",
        )
    model, trained = current
    cities = trained.coverage.get("cities")
    props, cleaned, failed = [], [], {}
    for property_id in property_ids:
        prop = access.get_property(session, actor, property_id, lock=True)
        try:
            cleaned.append(check_facts(facts_of(prop), now=now, coverage_cities=cities))
        except ValidationFailed as exc:
            failed[prop.id] = exc.details
            continue
        props.append(prop)
    results = trained.value_many([_avm_facts(c) for c in cleaned]) if cleaned else []
    valuations = []
    for prop, clean, result in zip(props, cleaned, results, strict=True):
        valuation = _row(model, prop, clean, result, actor, purpose, run_id, now)
        session.add(valuation)
        valuations.append((prop, valuation))
    session.flush()
    entries = []
    for prop, valuation in valuations:
        before = {"latest_value": None if prop.latest_value is None else str(prop.latest_value)}
        prop.latest_value = valuation.value
        prop.latest_valuation_id = valuation.id
        prop.latest_valued_at = now
        prop.updated_at = now
        after = {"value": str(valuation.value), "model_id": model.id, "property_id": prop.id}
        entries.append(("collateral.valued", "col_valuation", valuation.id, before, after))
    session.flush()
    audit.record_all(session, actor, entries)
    return [v for _, v in valuations], failed


def confidence_of(valuation: Valuation) -> str:
    return (valuation.breakdown or {}).get("confidence") or "low"


def _scope(stmt, actor: Actor):
    if actor.role in access.SEES_ALL or actor.is_admin:
        return stmt
    if actor.role == "rm":
        mine = select(Property.id).where(Property.rm_user_id == actor.user_id)
        return stmt.where(  # ad-hoc valuations they asked for; their clients' properties'
            or_(
                and_(
                    Valuation.requested_by_user_id == actor.user_id,
                    Valuation.property_id.is_(None),
                ),
                Valuation.property_id.in_(mine),
            )
        )
    return stmt.where(Valuation.id.is_(None))


def list_valuations(
    session: Session,
    actor: Actor,
    *,
    property_id: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page:
    ensure_role(actor, *VALUERS)
    stmt = _scope(select(Valuation), actor)
    if property_id is not None:
        access.get_property(session, actor, property_id)
        stmt = stmt.where(Valuation.property_id == property_id)
    return paginate(session, stmt, Valuation.id, limit=limit, cursor=cursor, descending=True)


def get_valuation(session: Session, actor: Actor, valuation_id: int) -> Valuation:
    ensure_role(actor, *VALUERS)
    valuation = session.scalar(_scope(select(Valuation), actor).where(Valuation.id == valuation_id))
    if valuation is None:
        raise NotFound("valuation not found", code="valuation_not_found")
    return valuation
