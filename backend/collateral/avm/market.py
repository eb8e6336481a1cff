"""A generated Chinese residential market for the demo and the tests, with its truth known.

Cities (杭州 Hangzhou, 苏州 Suzhou, 南京 Nanjing) have districts with a price level; each
district has communities (小区) with a base price per m² (tens of thousands of CNY), a
location, a building height and build phases (一期, 二期 ... built years apart, so that age
varies inside a community). A sale's price is

    community base per m² × area × floor × orientation × age × size × decoration × type
    × market trend (per quarter) × noise (log-normal)

with the factor coefficients of ``TRUTH`` on the bands of ``factors.py``: exactly what the
comparison model estimates, so a test can check the breakdown recovers them. Sales fall on
communities unevenly (a log-normal popularity), so some communities are sparse.

``generate_sales(n, seed=...)`` returns a DataFrame with the columns the CLI's identity mapping
reads (``TRAIN_MAP``); ``communities(seed)`` the communities with their planted base prices.
Deterministic for a seed.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd

from backend.collateral.avm import factors

TRUTH: dict = {
    "floor": {"ground": 0.95, "low": 0.98, "middle": 1.00, "high": 1.02, "top": 0.96},
    "orientation": {
        "S": 1.00,
        "SN": 1.01,
        "SE": 0.98,
        "SW": 0.97,
        "E": 0.95,
        "W": 0.93,
        "EW": 0.94,
        "N": 0.90,
    },
    "age": {"0-5": 1.04, "6-10": 1.00, "11-20": 0.95, "21-30": 0.89, "31+": 0.84},
    "area": {"<60": 1.05, "60-90": 1.02, "90-120": 1.00, "120-144": 0.98, "144+": 0.95},
    "decoration": {"rough": 0.94, "simple": 1.00, "fine": 1.05, "luxury": 1.10},
    "type": {"apartment": 1.00, "townhouse": 1.20, "villa": 1.45},
    "trend_per_quarter": -0.008,  # log change of every price per quarter
    "noise_sd": 0.07,  # log-normal noise of one sale around its modelled price
    "community_sd": 0.18,  # log spread of communities' base prices around their district's
}

# city -> (districts: name, base price per m² (CNY), centre lat, lon)
CITIES: dict[str, tuple[tuple[str, int, float, float], ...]] = {
    "杭州": (
        ("上城区", 62000, 30.245, 120.170),
        ("西湖区", 58000, 30.260, 120.120),
        ("拱墅区", 48000, 30.320, 120.150),
        ("滨江区", 55000, 30.205, 120.210),
        ("余杭区", 36000, 30.420, 120.300),
        ("萧山区", 30000, 30.160, 120.270),
    ),
    "苏州": (
        ("姑苏区", 38000, 31.300, 120.620),
        ("工业园区", 45000, 31.320, 120.720),
        ("吴中区", 26000, 31.260, 120.630),
        ("相城区", 24000, 31.370, 120.640),
        ("虎丘区", 30000, 31.300, 120.560),
    ),
    "南京": (
        ("鼓楼区", 52000, 32.070, 118.770),
        ("建邺区", 56000, 32.000, 118.730),
        ("玄武区", 50000, 32.050, 118.800),
        ("江宁区", 28000, 31.950, 118.840),
        ("浦口区", 22000, 32.060, 118.630),
    ),
}
DEFAULT_CITIES = ("杭州", "苏州")

_PREFIX = "翠金阳绿滨丹紫玉锦华云星月桂枫兰海天和新东西南北春秋景御湖溪山澜"
_SUFFIX = ("花园", "家园", "公寓", "新村", "小区", "府", "苑", "湾", "庭", "城")
_PHASES = ("一期", "二期", "三期", "四期")
_HEIGHTS = (6, 7, 11, 18, 26, 33)
_ORIENT_P = (0.34, 0.24, 0.10, 0.08, 0.07, 0.05, 0.04, 0.08)  # factors.ORIENTATIONS order
_DECOR_P = (0.15, 0.35, 0.40, 0.10)
COMMUNITIES_PER_DISTRICT = 14

# the identity mapping of the generated columns (``finedge collateral train --map ...``)
TRAIN_MAP = (
    "price=price,area=area,build_year=build_year,floor=floor,total_floors=total_floors,"
    "rooms=rooms,city=city,district=district,community=community,lat=lat,lon=lon,"
    "sale_date=sale_date,orientation=orientation,decoration=decoration,"
    "property_type=property_type"
)


def communities(seed: int = 0, cities=None) -> pd.DataFrame:
    """The market's communities with their planted base price per m² (reference unit: middle
    floor, south, 6–10 years, 90–120 m², simple decoration, apartment, first quarter)."""
    rng = np.random.default_rng([seed, 7])
    rows = []
    used: set[str] = set()
    for city in cities or DEFAULT_CITIES:
        if city not in CITIES:
            raise ValueError(f"unknown city {city!r}; known: {', '.join(CITIES)}")
        for district, base, lat, lon in CITIES[city]:
            for _ in range(COMMUNITIES_PER_DISTRICT):
                name = _name(rng, used)
                start = int(rng.integers(1988, 2021))
                phases = int(rng.integers(1, 4))
                rows.append(
                    {
                        "city": city,
                        "district": district,
                        "community": name,
                        "base_per_m2": round(
                            base * math.exp(rng.normal(0.0, TRUTH["community_sd"])), -1
                        ),
                        "lat": round(lat + rng.normal(0, 0.03), 5),
                        "lon": round(lon + rng.normal(0, 0.03), 5),
                        "start_year": start,
                        "phase_years": [min(start + 5 * p, 2024) for p in range(phases)],
                        "height": int(rng.choice(_HEIGHTS)),
                        "townhouses": bool(rng.random() < 0.12),
                        "mean_area": float(rng.uniform(70, 130)),
                        "popularity": float(rng.lognormal(0.0, 1.1)),
                    }
                )
    return pd.DataFrame(rows)


def _name(rng, used: set[str]) -> str:
    for _ in range(100):
        stem = "".join(rng.choice(list(_PREFIX), size=2)) + str(rng.choice(_SUFFIX))
        if stem not in used:
            used.add(stem)
            return stem
    stem = f"{stem}{len(used)}"
    used.add(stem)
    return stem


def generate_sales(
    n: int,
    *,
    seed: int = 0,
    cities=None,
    start: date = date(2024, 1, 1),
    quarters: int = 8,
    community_seed: int | None = None,
) -> pd.DataFrame:
    """``n`` sales over ``quarters`` quarters from ``start``; the communities are those of
    ``communities(community_seed or seed, cities)`` (so two samples of one market share them).
    Columns: city, district, community, area (m²), floor, total_floors, build_year,
    orientation, decoration, rooms, property_type, lat, lon, sale_date (ISO), price (CNY)."""
    comms = communities(seed if community_seed is None else community_seed, cities)
    rng = np.random.default_rng([seed, 11])
    weights = comms["popularity"].to_numpy()
    picks = rng.choice(len(comms), size=n, p=weights / weights.sum())
    days = quarters * 91
    rows = []
    for i in picks:
        c = comms.iloc[i]
        townhouse = c["townhouses"] and rng.random() < 0.25
        ptype = "townhouse" if townhouse else "apartment"
        total = 3 if townhouse else int(c["height"])
        floor = int(rng.integers(1, total + 1))
        area = float(np.clip(rng.normal(c["mean_area"] * (1.6 if townhouse else 1.0), 25), 32, 320))
        area = round(area, 2)
        build_year = int(rng.choice(c["phase_years"]))
        sold = start + timedelta(days=int(rng.integers(0, days)))
        age = max(0, sold.year - build_year)
        orientation = str(rng.choice(factors.ORIENTATIONS, p=_ORIENT_P))
        decoration = str(rng.choice(factors.DECORATIONS, p=_DECOR_P))
        quarter = ((sold.year - start.year) * 12 + sold.month - start.month) // 3
        log_price = (
            math.log(c["base_per_m2"] * area)
            + math.log(TRUTH["floor"][factors.floor_band(floor, total)])
            + math.log(TRUTH["orientation"][orientation])
            + math.log(TRUTH["age"][factors.age_band(age)])
            + math.log(TRUTH["area"][factors.area_band(area)])
            + math.log(TRUTH["decoration"][decoration])
            + math.log(TRUTH["type"][ptype])
            + TRUTH["trend_per_quarter"] * quarter
            + rng.normal(0.0, TRUTH["noise_sd"])
        )
        rows.append(
            {
                "city": c["city"],
                "district": c["district"],
                "community": c["community"],
                "area": area,
                "floor": floor,
                "total_floors": total,
                "build_year": build_year,
                "orientation": orientation,
                "decoration": decoration,
                "rooms": int(np.clip(round(area / 38), 1, 6)),
                "property_type": ptype,
                "lat": c["lat"],
                "lon": c["lon"],
                "sale_date": sold.isoformat(),
                "price": round(math.exp(log_price), -2),
            }
        )
    return pd.DataFrame(rows)


def truth() -> dict:
    """A copy of the planted coefficients."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in TRUTH.items()}
