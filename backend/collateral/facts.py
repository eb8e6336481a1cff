"""A property's facts as a valuation reads them, checked once for everyone: the registry
(register, update) and the valuer use the same ``validate_facts``, so a property the registry
accepts is a property the valuer can value (apart from a city the champion does not know,
which only the valuer can tell).

Every problem is collected and reported at once, per field, as ``ValidationFailed``
(400 ``validation_error`` with ``details``): a negative or zero area, a floor above the
building's floors, a build year in the future, an unknown orientation, decoration or type,
text where a number is expected, a number that is not finite or is absurdly large.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.platform.errors import ValidationFailed

ORIENTATIONS = ("S", "SN", "SE", "SW", "E", "W", "EW", "N")
DECORATIONS = ("rough", "simple", "fine", "luxury")
PROPERTY_TYPES = ("apartment", "townhouse", "villa")

# what a valuation needs; lat and lon are optional
REQUIRED = (
    "city",
    "district",
    "community",
    "area_m2",
    "floor",
    "total_floors",
    "build_year",
    "orientation",
    "decoration",
    "rooms",
    "property_type",
)
OPTIONAL = ("lat", "lon")
FIELDS = REQUIRED + OPTIONAL

TEXT_LIMITS = {"city": 40, "district": 60, "community": 120}
AREA_MAX = Decimal("100000.00")  # m²: a legal figure on a title, never this large for a home
INT_RANGES = {
    "floor": (-5, 200),  # basements are floors below 1; the tallest towers have < 200
    "total_floors": (1, 200),
    "rooms": (1, 50),
}
OLDEST_BUILD_YEAR = 1800


def validate_facts(
    facts: Mapping[str, Any], *, today: date | None = None, partial: bool = False
) -> dict[str, Any]:
    """The facts, normalised (text stripped, area a ``Decimal`` with two places, ints, floats),
    or ``ValidationFailed`` with every problem per field. ``partial``: only the fields given
    are checked for presence (an update merges them into the stored facts first and checks
    the whole again)."""
    today = today or date.today()
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in REQUIRED:
        if (name not in facts or facts[name] is None) and not partial:
            fail(name, "required")
    for name, limit in TEXT_LIMITS.items():
        if facts.get(name) is not None:
            value = facts[name]
            if not isinstance(value, str) or not value.strip():
                fail(name, "a non-empty text")
            elif len(value.strip()) > limit:
                fail(name, f"at most {limit} characters")
            else:
                out[name] = value.strip()
    if facts.get("area_m2") is not None:
        area = _decimal(facts["area_m2"])
        if area is None:
            fail("area_m2", "a number of square metres")
        elif area <= 0:
            fail("area_m2", "must be above 0")
        elif area > AREA_MAX:
            fail("area_m2", f"at most {AREA_MAX}")
        else:
            out["area_m2"] = area.quantize(Decimal("0.01"))
    for name, (low, high) in INT_RANGES.items():
        if facts.get(name) is not None:
            value = _int(facts[name])
            if value is None:
                fail(name, "a whole number")
            elif not low <= value <= high:
                fail(name, f"from {low} to {high}")
            else:
                out[name] = value
    if facts.get("build_year") is not None:
        year = _int(facts["build_year"])
        if year is None:
            fail("build_year", "a year")
        elif year > today.year:
            fail("build_year", f"in the future (after {today.year})")
        elif year < OLDEST_BUILD_YEAR:
            fail("build_year", f"not before {OLDEST_BUILD_YEAR}")
        else:
            out["build_year"] = year
    if "floor" in out and "total_floors" in out and out["floor"] > out["total_floors"]:
        fail("floor", f"above the building's {out['total_floors']} floors")
    if out.get("floor") == 0:
        fail("floor", "there is no floor 0 (1 is the ground floor, below it -1)")
    for name, choices in (
        ("orientation", ORIENTATIONS),
        ("decoration", DECORATIONS),
        ("property_type", PROPERTY_TYPES),
    ):
        if facts.get(name) is not None:
            if facts[name] not in choices:
                fail(name, f"one of {', '.join(choices)}")
            else:
                out[name] = facts[name]
    for name, bound in (("lat", 90.0), ("lon", 180.0)):
        value = facts.get(name)
        if value is None:
            if name in facts:
                out[name] = None
            continue
        number = _float(value)
        if number is None or not -bound <= number <= bound:
            fail(name, f"a number from -{bound:g} to {bound:g}")
        else:
            out[name] = number
    if errors:
        raise ValidationFailed("the property's facts are not valid", details=errors)
    return out


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    if isinstance(value, int) and abs(value) >= 2**63:
        return None
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 2**63 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value) if abs(value) < 2**63 else None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None
