"""The automated valuation model (AVM): pure numpy, pandas and scikit-learn; no database, no
web. ``train`` fits the methods and their ensemble on any sales frame (``parse_map`` names
its columns); ``TrainedAVM.value`` values one property with a range, a confidence, the blend
and the comparison method's breakdown; ``ratio_study`` is IAAO's; ``market`` generates a
Chinese city market with known factor effects; ``ames`` loads real sales for development."""

from backend.collateral.avm.model import (
    MAP_KEYS,
    AvmResult,
    MapError,
    TrainedAVM,
    parse_map,
    price_like,
    split,
    train,
)
from backend.collateral.avm.ratio import IAAO, ratio_study

__all__ = [
    "IAAO",
    "MAP_KEYS",
    "AvmResult",
    "MapError",
    "TrainedAVM",
    "parse_map",
    "price_like",
    "ratio_study",
    "split",
    "train",
]
