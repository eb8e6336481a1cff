"""The comparison method's factors (市场比较法的因素修正): the vocabularies a property's facts
use and the bands a fact falls in.

The bands are the appraisal standard's factor tables as a Chinese valuer applies them: the
floor's place in the building, the orientation, the building's age, the unit's size and the
decoration. Each band's coefficient is *learnt* from sales (``model.py``); the reference band
(coefficient 1.00) is named in ``REFERENCE``. The generator (``market.py``) plants its own
coefficients on the same bands so a test can check they are recovered.
"""

from __future__ import annotations

import math

ORIENTATIONS = ("S", "SN", "SE", "SW", "E", "W", "EW", "N")
DECORATIONS = ("rough", "simple", "fine", "luxury")
PROPERTY_TYPES = ("apartment", "townhouse", "villa")

FLOOR_BANDS = ("ground", "low", "middle", "high", "top")
AGE_BANDS = ("0-5", "6-10", "11-20", "21-30", "31+")
AREA_BANDS = ("<60", "60-90", "90-120", "120-144", "144+")

# the band a coefficient of 1.00 belongs to, per factor
REFERENCE = {
    "floor": "middle",
    "orientation": "S",
    "age": "6-10",
    "area": "90-120",
    "decoration": "simple",
    "type": "apartment",
}

LABELS = {
    "floor": "floor in the building",
    "orientation": "orientation",
    "age": "building age (years)",
    "area": "unit size",
    "decoration": "decoration",
    "type": "property type",
}

# the order of the corrections in a breakdown
FACTORS = ("floor", "orientation", "age", "area", "decoration", "type")


def floor_band(floor, total_floors) -> str | None:
    if _missing(floor) or _missing(total_floors) or total_floors <= 0:
        return None
    floor, total = int(floor), int(total_floors)
    if floor <= 1:
        return "ground"
    if total > 1 and floor >= total:
        return "top"
    share = floor / total
    if share <= 1 / 3:
        return "low"
    if share <= 2 / 3:
        return "middle"
    return "high"


def age_band(age) -> str | None:
    if _missing(age):
        return None
    if age <= 5:
        return "0-5"
    if age <= 10:
        return "6-10"
    if age <= 20:
        return "11-20"
    if age <= 30:
        return "21-30"
    return "31+"


def area_band(area) -> str | None:
    if _missing(area):
        return None
    if area < 60:
        return "<60"
    if area < 90:
        return "60-90"
    if area < 120:
        return "90-120"
    if area < 144:
        return "120-144"
    return "144+"


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
