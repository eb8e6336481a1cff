"""Training and using the automated valuation model (AVM).

``train(frame, mapping)`` fits, on one split of the sales, four methods and an ensemble:

- **hedonic**: ridge regression on log price: numeric facts (log area, age, age², the floor's
  place, height, rooms, location, the quarter), one-hot categories (city, district,
  orientation, decoration, type, text extras) and community effects (one-hot, shrunk by the
  ridge penalty);
- **gbm**: gradient boosting (``HistGradientBoostingRegressor``) on log price per unit of
  area, with the community's level target-encoded (cross-fitted, so no row sees its own
  price);
- **comparison**: the market comparison method: the community's base price per m² at the
  reference unit and the latest quarter, corrected by factor coefficients (floor,
  orientation, age, size, decoration, type) all estimated jointly by backfitting on log price
  per m²; communities are clustered (KMeans on level, location, age, size) and a sparse
  community's level is shrunk towards its cluster's by its count of sales;
- **ensemble**: a weighted mean of the three log predictions, the weights fitted by
  non-negative least squares on out-of-fold predictions (3 folds of the training split).

The **baseline** is a plain ``LinearRegression`` on log price with the mapped facts as they
are (numbers untransformed, text one-hot), fitted on the same training split.

A fifth of the rows (seeded) is held out: ``metrics`` is the IAAO ratio study of each method,
the ensemble and the baseline on it, and the forecast SD of a valuation is that of the
ensemble's held-out log residuals (widened by the methods' disagreement for one property).

The property's own asking, listing or loan price never enters the model: a mapped ``price``
is the target only, and any extra column whose name says price, loan, asking, listing,
valuation, appraisal, assessment, mortgage or LTV is dropped with a message
(``feature_spec["dropped"]``).
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from backend.collateral.avm import factors
from backend.collateral.avm.ratio import ratio_study

MAP_KEYS = (
    "price",
    "area",
    "build_year",
    "age",
    "floor",
    "total_floors",
    "rooms",
    "city",
    "district",
    "community",
    "lat",
    "lon",
    "sale_date",
    "orientation",
    "decoration",
    "property_type",
)
REQUIRED = ("price", "area")
TEXT_KEYS = ("city", "district", "community", "orientation", "decoration", "property_type")
NUMERIC_KEYS = ("area", "build_year", "age", "floor", "total_floors", "rooms", "lat", "lon")
DEFAULT_CITY = "(all)"
PRICE_WORDS = re.compile(
    r"price|loan|asking|listing|valuation|apprais|assess|mortgage|ltv|offer", re.IGNORECASE
)
PRICE_TOKENS = {"ask", "list", "value", "val", "amount", "amt"}
ID_NAMES = {"id", "rownames", "index", "unnamed: 0", "unnamed_0", "row", "row_id"}
CONFIDENCE_CUTS = (0.10, 0.20)  # forecast SD of log value: high below the first, low above
INTERVAL_Z = 1.2816  # 80% interval, normal on the log scale
HOLDOUT = 0.2
FOLDS = 3
SHRINK_K_MAX = 50.0  # at most this many sales' worth of prior on a community's own level
SPARSE_N = 5  # communities with fewer sales than this are "sparse"
BORROWED_NOTE = 0.2  # the breakdown names the cluster when it lends this share or more
METHODS = ("hedonic", "gbm", "comparison")

Progress = Callable[[str], None]

_threads = None


def _one_thread():
    """OpenMP limited to one thread around fits and predictions: gradient boosting's threads
    spin and lose badly on a shared, busy machine, and one property is valued in
    milliseconds on one core anyway."""
    global _threads
    if _threads is None:
        import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime the controller limits
        from threadpoolctl import ThreadpoolController

        _threads = ThreadpoolController()
    return _threads.limit(limits=1, user_api="openmp")


class MapError(ValueError):
    """A bad ``--map`` or a frame that lacks a mapped column (the message is one line)."""


def parse_map(text: str) -> dict[str, str]:
    """``"price=COL,area=COL,..."`` -> {key: column}. Keys are ``MAP_KEYS``; price and area are
    required, and build_year or age; each key and each column at most once."""
    if not isinstance(text, str) or not text.strip():
        raise MapError("--map is empty: give at least price=COL,area=COL,build_year=COL")
    mapping: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise MapError(f"--map item {item!r} is not KEY=COLUMN")
        key, column = (part.strip() for part in item.split("=", 1))
        if key not in MAP_KEYS:
            raise MapError(f"--map key {key!r} is unknown; known: {', '.join(MAP_KEYS)}")
        if not column:
            raise MapError(f"--map key {key!r} names no column")
        if key in mapping:
            raise MapError(f"--map key {key!r} is given twice")
        if column in mapping.values():
            raise MapError(f"--map column {column!r} is mapped twice")
        mapping[key] = column
    missing = [k for k in REQUIRED if k not in mapping]
    if missing:
        raise MapError(f"--map lacks {' and '.join(missing)} (price and area are required)")
    if "build_year" not in mapping and "age" not in mapping:
        raise MapError("--map needs build_year=COL or age=COL")
    return mapping


def price_like(column: str) -> bool:
    """A column whose name says it is a price, a loan or a valuation of the property itself."""
    if PRICE_WORDS.search(column):
        return True
    tokens = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", column).lower())
    return any(t in PRICE_TOKENS for t in tokens)


@dataclass(frozen=True)
class AvmResult:
    value: Decimal
    low: Decimal
    high: Decimal
    confidence_sd: float
    confidence: str
    blend: dict[str, float]
    methods: dict[str, Decimal]
    breakdown: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "value": str(self.value),
            "low": str(self.low),
            "high": str(self.high),
            "confidence_sd": self.confidence_sd,
            "confidence": self.confidence,
            "blend": dict(self.blend),
            "methods": {k: str(v) for k, v in self.methods.items()},
            "breakdown": self.breakdown,
        }


# --------------------------------------------------------------------------- preparation


def _canonical(frame: pd.DataFrame, mapping: Mapping[str, str], *, strict: bool) -> pd.DataFrame:
    """The mapped facts under their keys (a column found by its mapped name, else by the key
    itself); a required one missing is a MapError when ``strict``."""
    out = pd.DataFrame(index=frame.index)
    for key in MAP_KEYS:
        column = mapping.get(key)
        if column is not None and column in frame.columns:
            out[key] = frame[column]
        elif key in frame.columns and (column is None or strict is False):
            out[key] = frame[key]
        elif column is not None and strict:
            raise MapError(f"the file has no column {column!r} (mapped to {key})")
        elif key == "area" and "area_m2" in frame.columns and not strict:
            out[key] = frame["area_m2"]  # a registered property's or a stored sale's name
    return out


def _to_number(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float)


def _to_text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().fillna("").astype(object)


def _quarter_index(dates: pd.Series, origin: tuple[int, int]) -> pd.Series:
    parsed = pd.to_datetime(dates, errors="coerce")
    return ((parsed.dt.year - origin[0]) * 4 + (parsed.dt.month - 1) // 3 - origin[1]).astype(float)


@dataclass
class _Spec:
    mapping: dict[str, str]
    numeric_extras: list[str]
    log_extras: list[str]
    text_extras: list[str]
    dropped: list[dict]
    origin: tuple[int, int] | None  # (year, quarter 0-3) of the first sale
    as_of_t: float  # the latest quarter index in training
    as_of_year: int
    as_of_quarter: str
    area_bands: list[float] | None  # None: the standard's m² bands; else quintile edges


def _features(raw: pd.DataFrame, spec: _Spec, *, for_valuation: bool) -> pd.DataFrame:
    """Facts -> the working frame every method reads (one row per property)."""
    c = _canonical(raw, spec.mapping, strict=False)
    f = pd.DataFrame(index=raw.index)
    f["area"] = _to_number(c["area"]) if "area" in c else np.nan
    for key in ("floor", "total_floors", "rooms", "lat", "lon"):
        f[key] = _to_number(c[key]) if key in c else np.nan
    if spec.origin is not None and "sale_date" in c and not for_valuation:
        # a sale after the training window is valued at the latest level the model knows
        t = _quarter_index(c["sale_date"], spec.origin).fillna(spec.as_of_t)
        f["t"] = t.clip(lower=0.0, upper=spec.as_of_t)
    else:
        f["t"] = spec.as_of_t  # a valuation is at the latest quarter the model knows
    if "sale_date" in c and not for_valuation:
        year = pd.to_datetime(c["sale_date"], errors="coerce").dt.year.astype(float)
        year = year.fillna(spec.as_of_year)
    else:
        year = pd.Series(float(spec.as_of_year), index=raw.index)
    if "age" in c:
        f["age"] = _to_number(c["age"])
    else:
        f["age"] = np.nan
    if "build_year" in c:
        by_year = year - _to_number(c["build_year"])
        f["age"] = f["age"].fillna(by_year)
    f["age"] = f["age"].clip(lower=0)
    for key in TEXT_KEYS:
        f[key] = _to_text(c[key]) if key in c else ""
    f["city"] = f["city"].replace("", DEFAULT_CITY)
    for col in spec.numeric_extras:
        f["x:" + col] = _to_number(raw[col]) if col in raw.columns else np.nan
    for col in spec.text_extras:
        f["x:" + col] = _to_text(raw[col]) if col in raw.columns else ""
    # the bands of the comparison method
    f["b:floor"] = [
        factors.floor_band(a, b) for a, b in zip(f["floor"], f["total_floors"], strict=True)
    ]
    f["b:age"] = [factors.age_band(a) for a in f["age"]]
    if spec.area_bands is None:
        f["b:area"] = [factors.area_band(a) for a in f["area"]]
    else:
        f["b:area"] = [_quantile_band(a, spec.area_bands) for a in f["area"]]
    f["b:orientation"] = f["orientation"].where(f["orientation"] != "", None)
    f["b:decoration"] = f["decoration"].where(f["decoration"] != "", None)
    f["b:type"] = f["property_type"].where(f["property_type"] != "", None)
    f["comm"] = f["city"] + "|" + f["district"] + "|" + f["community"]
    return f


def _quantile_band(value, edges: list[float]) -> str | None:
    if factors._missing(value):
        return None
    for i, edge in enumerate(edges):
        if value < edge:
            low = "" if i == 0 else f"{edges[i - 1]:g}"
            return f"{low}-{edge:g}" if low else f"<{edge:g}"
    return f"{edges[-1]:g}+"


def _build_spec(
    raw: pd.DataFrame, mapping: dict[str, str], progress: Progress
) -> tuple[_Spec, pd.Series]:
    c = _canonical(raw, mapping, strict=True)
    price = _to_number(c["price"])
    mapped = set(mapping.values())
    numeric_extras, text_extras, log_extras, dropped = [], [], [], []
    for col in raw.columns:
        if col in mapped:
            continue
        name = str(col)
        if price_like(name):
            dropped.append(
                {
                    "column": name,
                    "reason": "price-like: the property's own price or loan never enters the model",
                }
            )
            continue
        if name.strip().lower() in ID_NAMES:
            dropped.append({"column": name, "reason": "an identifier"})
            continue
        series = raw[col]
        numbers = pd.to_numeric(series, errors="coerce")
        if series.notna().sum() == 0:
            dropped.append({"column": name, "reason": "empty"})
        elif numbers.notna().sum() >= 0.95 * series.notna().sum():
            numeric_extras.append(name)
            values = numbers.dropna()
            if (values >= 0).all() and values.skew() > 2:
                log_extras.append(name)
        else:
            text = _to_text(series)
            if text.nunique() > max(50, 0.5 * len(text)):
                dropped.append({"column": name, "reason": "identifier-like text"})
            else:
                text_extras.append(name)
    for d in dropped:
        progress(f"extra column {d['column']!r} dropped: {d['reason']}")
    origin, as_of_t, as_of_year, as_of_quarter = None, 0.0, date.today().year, ""
    if "sale_date" in c:
        parsed = pd.to_datetime(c["sale_date"], errors="coerce").dropna()
        if len(parsed):
            first, last = parsed.min(), parsed.max()
            origin = (int(first.year), (int(first.month) - 1) // 3)
            as_of_t = float((last.year - origin[0]) * 4 + (last.month - 1) // 3 - origin[1])
            as_of_year = int(last.year)
            as_of_quarter = f"{last.year}Q{(last.month - 1) // 3 + 1}"
    area = _to_number(c["area"])
    area_bands = None
    if area.median() > 400:  # not square metres (Ames: square feet): quintiles of the data
        area_bands = sorted({float(round(q, -1)) for q in area.quantile([0.2, 0.4, 0.6, 0.8])})
    spec = _Spec(
        mapping=dict(mapping),
        numeric_extras=numeric_extras,
        log_extras=log_extras,
        text_extras=text_extras,
        dropped=dropped,
        origin=origin,
        as_of_t=as_of_t,
        as_of_year=as_of_year,
        as_of_quarter=as_of_quarter,
        area_bands=area_bands,
    )
    return spec, price


# --------------------------------------------------------------------------- methods


def _numeric_design(f: pd.DataFrame, spec: _Spec) -> pd.DataFrame:
    x = pd.DataFrame(index=f.index)
    x["log_area"] = np.log(f["area"].clip(lower=1))
    x["age"] = f["age"]
    x["age2"] = f["age"] ** 2 / 100.0
    x["floor_share"] = f["floor"] / f["total_floors"].where(f["total_floors"] > 0)
    x["log_height"] = np.log(f["total_floors"].clip(lower=1))
    x["rooms"] = f["rooms"]
    x["lat"] = f["lat"]
    x["lon"] = f["lon"]
    x["t"] = f["t"]
    for col in spec.numeric_extras:
        v = f["x:" + col]
        x["x:" + col] = np.log1p(v.clip(lower=0)) if col in spec.log_extras else v
    return x


def _categories(spec: _Spec) -> list[str]:
    cats = ["city", "district", "orientation", "decoration", "property_type", "b:floor"]
    return cats + ["x:" + c for c in spec.text_extras]


class _Hedonic:
    def fit(self, f: pd.DataFrame, y: np.ndarray, spec: _Spec):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        self.spec = spec
        x = self._design(f)
        num = [c for c in x.columns if c not in self.cats]
        self.pipe = make_pipeline(
            ColumnTransformer(
                [
                    (
                        "num",
                        make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                        num,
                    ),
                    (
                        "cat",
                        OneHotEncoder(handle_unknown="ignore", min_frequency=3),
                        [c for c in self.cats if c != "comm"],
                    ),
                    ("comm", OneHotEncoder(handle_unknown="ignore"), ["comm"]),
                ],
                sparse_threshold=1.0,
            ),
            Ridge(alpha=2.0),
        )
        self.pipe.fit(x, y)
        return self

    def _design(self, f):
        self.cats = [*_categories(self.spec), "comm"]
        x = _numeric_design(f, self.spec)
        for c in self.cats:
            x[c] = f[c].fillna("").astype(str)
        x = x.loc[:, ~x.isna().all()] if not hasattr(self, "pipe") else x
        return x

    def predict(self, f):
        return self.pipe.predict(self._design(f))


class _Gbm:
    def fit(self, f: pd.DataFrame, y: np.ndarray, spec: _Spec, seed: int):
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.model_selection import KFold
        from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

        self.spec = spec
        target = y - np.log(f["area"].clip(lower=1).to_numpy())  # log price per unit of area
        self.low = [c for c in _categories(spec) if f[c].nunique() <= 200]
        self.encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
        )
        self.target_enc = TargetEncoder(cv=KFold(5, shuffle=True, random_state=seed))
        num = _numeric_design(f, spec)
        self.num_cols = [c for c in num.columns if num[c].nunique() > 1]  # no empty columns
        num = num[self.num_cols]
        codes = self.encoder.fit_transform(f[self.low].fillna("").astype(str))
        levels = self.target_enc.fit_transform(f[["comm", "district"]].astype(str), target)
        x = np.column_stack([num.to_numpy(float), levels, codes])
        n_num = num.shape[1] + 2
        self.model = HistGradientBoostingRegressor(
            learning_rate=0.08,
            max_iter=int(np.clip(len(f) / 8, 120, 300)),
            max_leaf_nodes=24,
            min_samples_leaf=12,
            l2_regularization=0.5,
            categorical_features=list(range(n_num, n_num + len(self.low))) or None,
            early_stopping=False,
            random_state=seed,
        )
        self.model.fit(x, target)
        return self

    def predict(self, f):
        num = _numeric_design(f, self.spec)[self.num_cols]
        codes = self.encoder.transform(f[self.low].fillna("").astype(str))
        levels = self.target_enc.transform(f[["comm", "district"]].astype(str))
        x = np.column_stack([num.to_numpy(float), levels, codes])
        return self.model.predict(x) + np.log(f["area"].clip(lower=1).to_numpy())


class _Comparison:
    """Community base per m² × factor coefficients, fitted by backfitting on log price per
    unit of area; community levels shrunk towards their KMeans cluster by count."""

    def fit(self, f: pd.DataFrame, y: np.ndarray, spec: _Spec, seed: int):
        self.spec = spec
        ppa = y - np.log(f["area"].clip(lower=1).to_numpy())
        self.factors = [k for k in factors.FACTORS if f["b:" + k].notna().mean() > 0.5]
        codes, names = {}, {}
        for k in self.factors:
            codes[k], uniques = pd.factorize(f["b:" + k].fillna("?").astype(str))
            names[k] = list(uniques)
        comm_codes, comm_names = pd.factorize(f["comm"])
        dt = f["t"].to_numpy(float) - spec.as_of_t
        n_comm = len(comm_names)
        comm_n = np.bincount(comm_codes, minlength=n_comm).astype(float)

        def group_mean(values, idx, size, count=None):
            count = np.bincount(idx, minlength=size).astype(float) if count is None else count
            return np.bincount(idx, weights=values, minlength=size) / np.maximum(count, 1)

        eff = {k: np.zeros(len(names[k])) for k in self.factors}
        refs: dict[str, str] = {}
        trend = 0.0
        level = np.zeros(n_comm)

        def factor_sum(skip=None):
            return sum((eff[k][codes[k]] for k in self.factors if k != skip), np.zeros(len(ppa)))

        previous = None
        for _ in range(40):  # backfitting: each effect in turn against the others' residual
            level = group_mean(ppa - trend * dt - factor_sum(), comm_codes, n_comm, comm_n)
            base = level[comm_codes]
            for k in self.factors:
                means = group_mean(ppa - base - trend * dt - factor_sum(k), codes[k], len(names[k]))
                ref = factors.REFERENCE[k]
                if ref not in names[k] or (spec.area_bands is not None and k == "area"):
                    counts = np.bincount(codes[k])
                    ref = names[k][int(np.argmax(counts))]  # the most common band
                refs[k] = ref
                eff[k] = means - means[names[k].index(ref)]
                if "?" in names[k]:
                    eff[k][names[k].index("?")] = 0.0
            r = ppa - base - factor_sum()
            tc = dt - dt.mean()
            denom = float(np.dot(tc, tc))
            trend = float(np.dot(tc, r - r.mean()) / denom) if denom > 0 else 0.0
            state = np.concatenate([level, *eff.values(), [trend]])
            if previous is not None and np.max(np.abs(state - previous)) < 1e-5:
                break
            previous = state
        self.effects = {k: {b: float(eff[k][i]) for i, b in enumerate(names[k])} for k in eff}
        for k in self.effects:
            self.effects[k].setdefault("?", 0.0)
        self.refs = refs
        self.trend = trend
        # how much a factor's band matters: the variance of its effects over the sales, added
        # to a valuation's forecast variance when that fact is not given
        self.band_var = {}
        for k in self.factors:
            given = codes[k][np.array(names[k])[codes[k]] != "?"]
            effects_of_sales = eff[k][given]
            self.band_var[k] = float(np.var(effects_of_sales)) if len(given) else 0.0
        # raw community levels at the latest quarter and the reference unit, with counts
        adj = ppa - trend * dt - factor_sum()
        level = group_mean(adj, comm_codes, n_comm, comm_n)
        raw = pd.Series(level, index=list(comm_names))
        counts = pd.Series(comm_n.astype(int), index=list(comm_names))
        self.resid_sd = float(np.std(adj - level[comm_codes]))
        self._cluster(f, raw, counts, seed)
        return self

    def _cluster(self, f, raw, counts, seed):
        from sklearn.cluster import KMeans

        info = f.groupby("comm").agg(
            lat=("lat", "mean"),
            lon=("lon", "mean"),
            age=("age", "mean"),
            area=("area", "mean"),
            city=("city", "first"),
            district=("district", "first"),
            community=("community", "first"),
        )
        info = info.reindex(raw.index)
        info["level"] = raw
        info["n"] = counts
        feats = info[["level", "lat", "lon", "age", "area"]].astype(float)
        feats["area"] = np.log(feats["area"].clip(lower=1))
        feats = feats.loc[:, feats.notna().any()]
        feats = feats.fillna(feats.median())
        std = feats.std(ddof=0).replace(0, 1)
        z = ((feats - feats.mean()) / std).to_numpy()
        z[:, 0] *= 2.0  # the price level counts double
        k = int(min(12, max(1, len(info) // 6)))
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        info["cluster"] = km.labels_
        # a cluster's level: its communities' levels weighted by their sales
        w = info["n"].astype(float)
        cl = (info["level"] * w).groupby(info["cluster"]).sum() / w.groupby(info["cluster"]).sum()
        info["cluster_level"] = info["cluster"].map(cl)
        info["cluster_size"] = info["cluster"].map(info["cluster"].value_counts())
        # empirical Bayes: a community with n sales keeps n / (n + K) of its own level, K the
        # ratio of the within-community variance of one sale to the spread of the well-sold
        # communities' levels around their cluster's (less what their own noise explains)
        within = self.resid_sd**2
        sold = info[info["n"] >= SPARSE_N]
        spread = float(np.mean((sold["level"] - sold["cluster_level"]) ** 2)) if len(sold) else 0
        between = spread - float(np.mean(within / sold["n"])) if len(sold) else 0.0
        self.shrink_k = float(np.clip(within / max(between, 1e-4), 0.5, SHRINK_K_MAX))
        shrink = info["n"] / (info["n"] + self.shrink_k)
        info["borrowed"] = 1 - shrink
        info["shrunk"] = shrink * info["level"] + (1 - shrink) * info["cluster_level"]
        self.info = info
        self.cluster_level = cl.to_dict()
        dist = info.groupby(["city", "district"]).apply(_mean_var, include_groups=False)
        self.district_level = {f"{a}|{b}": v for (a, b), v in dist.items()}
        city = info.groupby("city").apply(_mean_var, include_groups=False)
        self.city_level = city.to_dict()
        self.global_level = _mean_var(info)
        located = info.dropna(subset=["lat", "lon"])
        self._located = located

    def level_of(self, row) -> tuple[float, int, list[str], float]:
        """(log base per unit of area, sales behind it, notes, the variance of the level
        beyond a typical community's: a sparse community's posterior variance, or the spread
        of the communities an unknown one's level is taken from)."""
        comm = row["comm"]
        if comm in self.info.index:
            r = self.info.loc[comm]
            notes = []
            if r["n"] < SPARSE_N or r["borrowed"] >= BORROWED_NOTE:
                notes.append(
                    f"sparse community ({int(r['n'])} sales): {r['borrowed']:.0%} of its level "
                    f"borrowed from cluster {int(r['cluster'])} "
                    f"({int(r['cluster_size'])} similar communities)"
                )
            var = 0.0 if r["n"] >= SPARSE_N else self.resid_sd**2 / (r["n"] + self.shrink_k)
            return float(r["shrunk"]), int(r["n"]), notes, var
        located = self._located[self._located["city"] == row["city"]]
        if not factors._missing(row["lat"]) and not factors._missing(row["lon"]) and len(located):
            d = np.hypot(located["lat"] - row["lat"], located["lon"] - row["lon"])
            near = located.assign(d=d).nsmallest(5, "d")
            level, var = _mean_var(near)
            return (
                level,
                int(near["n"].sum()),
                [f"community not in the sales: level of the {len(near)} nearest communities"],
                var,
            )
        key = f"{row['city']}|{row['district']}"
        if key in self.district_level:
            level, var = self.district_level[key]
            return level, 0, ["community not in the sales: the district's level"], var
        if row["city"] in self.city_level:
            level, var = self.city_level[row["city"]]
            return level, 0, ["community not in the sales: the city's level"], var
        level, var = self.global_level
        return level, 0, ["location unknown to the model: the overall level"], var

    def predict_one(self, row) -> tuple[float, dict]:
        level, n, notes, extra_var = self.level_of(row)
        # a past sale (a ratio study) at its own quarter's level; a valuation is at the latest
        level += self.trend * (float(row["t"]) - self.spec.as_of_t)
        corrections = []
        total = level
        for k in self.factors:
            band = row["b:" + k]
            band = "?" if band is None or (isinstance(band, float) and math.isnan(band)) else band
            eff = self.effects[k].get(str(band))
            if band == "?":
                extra_var += self.band_var.get(k, 0.0)
                notes.append(f"{factors.LABELS[k]} not given: the reference band assumed")
            if eff is None:
                eff = 0.0
                notes.append(f"{factors.LABELS[k]}: band {band!r} not seen in the sales")
            corrections.append((k, str(band), eff))
            total += eff
        return total + math.log(max(row["area"], 1.0)), {
            "level": level,
            "sales": n,
            "corrections": corrections,
            "notes": notes,
            "extra_var": extra_var,
        }

    def predict(self, f):
        return np.array([self.predict_one(row)[0] for _, row in f.iterrows()])

    def coefficients(self) -> dict[str, dict[str, float]]:
        return {
            k: {b: round(math.exp(v), 4) for b, v in eff.items() if b != "?"}
            for k, eff in self.effects.items()
        }


def _mean_var(group: pd.DataFrame) -> tuple[float, float]:
    """The sales-weighted mean and variance of communities' levels."""
    mean = float(np.average(group["shrunk"], weights=group["n"]))
    var = float(np.average((group["shrunk"] - mean) ** 2, weights=group["n"]))
    return mean, var


class _Baseline:
    def fit(self, f, y, spec):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LinearRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder

        self.spec = spec
        x = self._design(f)
        self.num = [c for c in x.columns if c not in self.cats]
        self.pipe = make_pipeline(
            ColumnTransformer(
                [
                    ("num", SimpleImputer(strategy="median"), self.num),
                    ("cat", OneHotEncoder(handle_unknown="ignore"), self.cats),
                ]
            ),
            LinearRegression(),
        )
        self.pipe.fit(x, y)
        return self

    def _design(self, f):
        x = f[["area", "age", "floor", "total_floors", "rooms", "lat", "lon", "t"]].copy()
        for col in self.spec.numeric_extras:
            x["x:" + col] = f["x:" + col]
        x = x.loc[:, x.notna().any()] if not hasattr(self, "num") else x[self.num]
        self.cats = [
            "city",
            "district",
            "community",
            "orientation",
            "decoration",
            "property_type",
        ] + ["x:" + c for c in self.spec.text_extras]
        for c in self.cats:
            x[c] = f[c].fillna("").astype(str)
        return x

    def predict(self, f):
        return self.pipe.predict(self._design(f))


# --------------------------------------------------------------------------- the model


def _money(x: float, step: int = 100) -> Decimal:
    if not math.isfinite(x):
        raise ValueError("value is not finite")
    return (Decimal(round(x / step)) * step).quantize(Decimal("0.01"))


def _weights(preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    w, _ = nnls(preds, y)
    if w.sum() <= 0:
        return np.full(preds.shape[1], 1.0 / preds.shape[1])
    return w / w.sum()


class TrainedAVM:
    """A trained ensemble: ``value``, ``value_many``, ``predict``; picklable."""

    def __init__(self):
        self.methods: dict = {}
        self.weights: dict[str, float] = {}
        self.baseline = None
        self.spec: _Spec | None = None
        self.metrics: dict = {}
        self.data_hash = ""
        self.trained_rows = 0
        self.sd = 0.1
        self.coverage: dict = {}
        self.feature_spec: dict = {}

    # ---- predictions (log)
    def _log_preds(self, f: pd.DataFrame) -> dict[str, np.ndarray]:
        return {name: np.asarray(m.predict(f), float) for name, m in self.methods.items()}

    def _ensemble(self, preds: dict[str, np.ndarray]) -> np.ndarray:
        return sum(self.weights[k] * preds[k] for k in self.weights)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The bare ensemble value of each row (no interval, no breakdown, no rounding)."""
        f = _features(frame.reset_index(drop=True), self.spec, for_valuation=False)
        with _one_thread():
            return np.exp(self._ensemble(self._log_preds(f)))

    def predict_baseline(self, frame: pd.DataFrame) -> np.ndarray:
        f = _features(frame.reset_index(drop=True), self.spec, for_valuation=False)
        return np.exp(self.baseline.predict(f))

    def knows_city(self, city: str | None) -> bool:
        return (city or DEFAULT_CITY) in self.coverage.get("cities", [])

    def knows_community(self, city: str, district: str, community: str) -> bool:
        """Whether the community has sales in the training data (else its level is borrowed
        from its neighbours, district or city)."""
        return f"{city}|{district}|{community}" in self.methods["comparison"].info.index

    def value(self, facts: Mapping) -> AvmResult:
        return self.value_many([facts])[0]

    def value_many(self, rows: Iterable[Mapping]) -> list[AvmResult]:
        frame = pd.DataFrame([dict(r) for r in rows])
        if frame.empty:
            return []
        f = _features(frame, self.spec, for_valuation=True)
        comparison = self.methods["comparison"]
        with _one_thread():
            preds = {
                k: np.asarray(m.predict(f), float)
                for k, m in self.methods.items()
                if m is not comparison
            }
        rows = [row for _, row in f.iterrows()]
        compared = [comparison.predict_one(row) for row in rows]  # value and breakdown at once
        preds["comparison"] = np.array([c[0] for c in compared])
        ens = self._ensemble(preds)
        out = []
        for i, row in enumerate(rows):
            log_v = float(ens[i])
            spread = math.sqrt(sum(w * (preds[k][i] - log_v) ** 2 for k, w in self.weights.items()))
            parts = compared[i][1]
            sd = math.sqrt(self.sd**2 + spread**2 + parts["extra_var"])
            out.append(
                AvmResult(
                    value=_money(math.exp(log_v)),
                    low=_money(math.exp(log_v - INTERVAL_Z * sd)),
                    high=_money(math.exp(log_v + INTERVAL_Z * sd)),
                    confidence_sd=round(sd, 4),
                    confidence=(
                        "high"
                        if sd < CONFIDENCE_CUTS[0]
                        else "medium"
                        if sd < CONFIDENCE_CUTS[1]
                        else "low"
                    ),
                    blend={k: round(w, 4) for k, w in self.weights.items()},
                    methods={k: _money(math.exp(float(preds[k][i]))) for k in self.weights},
                    breakdown=self._breakdown(row, parts, spread),
                )
            )
        return out

    def _breakdown(self, row, parts, spread) -> dict:
        spec = self.spec
        base_per = math.exp(parts["level"])
        area = float(row["area"])
        running = base_per * area
        items = []
        base_value = running
        unit = " (m²)" if spec.area_bands is None else ""
        for k, band, eff in parts["corrections"]:
            coefficient = math.exp(eff)
            amount = running * (coefficient - 1.0)
            items.append(
                {
                    "factor": k,
                    "label": f"{factors.LABELS[k]}{unit if k == 'area' else ''}: {band}",
                    "band": band,
                    "coefficient": round(coefficient, 4),
                    "amount": str(Decimal(amount).quantize(Decimal("0.01"))),
                }
            )
            running += amount
        # the amounts are rounded to fen; the comparison value is their exact sum
        total = Decimal(base_value).quantize(Decimal("0.01")) + sum(
            (Decimal(i["amount"]) for i in items), Decimal("0")
        )
        notes = list(parts["notes"])
        if spec.as_of_quarter:
            notes.append(f"market level as of {spec.as_of_quarter}, the latest quarter of sales")
        if spread > 0.15:
            notes.append("the methods disagree by more than 15%: treat with care")
        return {
            "community": row["community"] or None,
            "district": row["district"] or None,
            "city": row["city"],
            "base_price_per_m2": str(Decimal(base_per).quantize(Decimal("0.01"))),
            "area_m2": str(Decimal(area).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
            "base_value": str(Decimal(base_value).quantize(Decimal("0.01"))),
            "community_sales": parts["sales"],
            "corrections": items,
            "comparison_value": str(total),
            "notes": notes,
        }

    def comparison_coefficients(self) -> dict[str, dict[str, float]]:
        return self.methods["comparison"].coefficients()

    def community_level(self, city: str, district: str, community: str) -> dict | None:
        """The comparison method's view of one community: its own level, its cluster's, what
        it is valued at (per m², reference unit) and its count of sales."""
        info = self.methods["comparison"].info
        key = f"{city}|{district}|{community}"
        if key not in info.index:
            return None
        r = info.loc[key]
        return {
            "sales": int(r["n"]),
            "cluster": int(r["cluster"]),
            "own_per_m2": math.exp(float(r["level"])),
            "cluster_per_m2": math.exp(float(r["cluster_level"])),
            "used_per_m2": math.exp(float(r["shrunk"])),
            "borrowed": float(r["borrowed"]),
        }


def data_hash(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def split(n: int, seed: int, holdout: float = HOLDOUT) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) of a frame of ``n`` rows, by seed."""
    order = np.random.default_rng([seed, 3]).permutation(n)
    cut = round(n * holdout)
    return np.sort(order[cut:]), np.sort(order[:cut])


def train(
    frame: pd.DataFrame,
    mapping: Mapping[str, str],
    *,
    seed: int = 0,
    progress: Progress | None = None,
    holdout: float = HOLDOUT,
) -> TrainedAVM:
    say = progress or (lambda _msg: None)
    if isinstance(mapping, str):
        mapping = parse_map(mapping)
    frame = frame.reset_index(drop=True)
    spec, price = _build_spec(frame, dict(mapping), say)
    keep = price.notna() & (price > 0) & np.isfinite(price)
    f_all = _features(frame, spec, for_valuation=False)
    keep &= f_all["area"].notna() & (f_all["area"] > 0) & np.isfinite(f_all["area"])
    if int(keep.sum()) < 50:
        raise MapError(f"only {int(keep.sum())} usable sales (a price and an area): need 50")
    if int((~keep).sum()):
        say(f"{int((~keep).sum())} rows without a positive price and area skipped")
    frame = frame[keep].reset_index(drop=True)
    f_all = f_all[keep].reset_index(drop=True)
    y_all = np.log(price[keep].to_numpy(float))
    train_idx, test_idx = split(len(frame), seed, holdout)
    f, y = f_all.iloc[train_idx].reset_index(drop=True), y_all[train_idx]
    ft, yt = f_all.iloc[test_idx].reset_index(drop=True), y_all[test_idx]

    def fit(name, ff, yy):
        if name == "hedonic":
            return _Hedonic().fit(ff, yy, spec)
        if name == "gbm":
            return _Gbm().fit(ff, yy, spec, seed)
        return _Comparison().fit(ff, yy, spec, seed)

    with warnings.catch_warnings(), _one_thread():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        # out-of-fold predictions for the ensemble's weights
        say(f"ensemble weights: {FOLDS} folds over {len(f)} training sales")
        oof = np.zeros((len(f), len(METHODS)))
        folds = np.random.default_rng([seed, 5]).integers(0, FOLDS, size=len(f))
        for k in range(FOLDS):
            inside, out = folds != k, folds == k
            for j, name in enumerate(METHODS):
                model = fit(name, f[inside].reset_index(drop=True), y[inside])
                oof[out, j] = model.predict(f[out].reset_index(drop=True))
            say(f"fold {k + 1}/{FOLDS} done")
        w = _weights(oof, y)
        avm = TrainedAVM()
        avm.spec = spec
        avm.weights = {name: float(w[j]) for j, name in enumerate(METHODS) if w[j] > 0}
        total = sum(avm.weights.values())
        avm.weights = {k: v / total for k, v in avm.weights.items()}
        for name in METHODS:
            say(f"fitting {name} on {len(f)} sales")
            avm.methods[name] = fit(name, f, y)
        avm.baseline = _Baseline().fit(f, y, spec)
        say("held-out ratio study")
        preds = avm._log_preds(ft)
        ens = avm._ensemble(preds)
    resid = yt - ens
    avm.sd = float(np.sqrt(np.mean((resid - np.median(resid)) ** 2)))
    actual = np.exp(yt)
    avm.metrics = {
        "ensemble": ratio_study(np.exp(ens), actual),
        "baseline": ratio_study(np.exp(avm.baseline.predict(ft)), actual),
        "methods": {k: ratio_study(np.exp(v), actual) for k, v in preds.items()},
        "forecast_sd": round(avm.sd, 4),
        "holdout_rows": len(test_idx),
        "weights": {k: round(v, 4) for k, v in avm.weights.items()},
    }
    avm.data_hash = data_hash(frame)
    avm.trained_rows = len(train_idx)
    comparison = avm.methods["comparison"]
    info = comparison.info
    avm.coverage = {
        "cities": sorted(info["city"].unique().tolist()),
        "districts": {c: sorted(g["district"].unique().tolist()) for c, g in info.groupby("city")},
        "communities": len(info),
    }
    avm.feature_spec = {
        "mapping": dict(spec.mapping),
        "extra_numeric": spec.numeric_extras,
        "extra_text": spec.text_extras,
        "dropped": spec.dropped,
        "categories": {
            k: sorted(x for x in f[k].unique().tolist() if x)
            for k in ("orientation", "decoration", "property_type")
        },
        "as_of_quarter": spec.as_of_quarter or None,
        "area_bands": spec.area_bands or "standard m² bands",
        "factors": comparison.factors,
        "coefficients": comparison.coefficients(),
        "trend_per_quarter": round(comparison.trend, 5),
        "interval": "80%: value × exp(±1.2816 × forecast SD of log value)",
        "confidence_cuts": {"high": CONFIDENCE_CUTS[0], "medium": CONFIDENCE_CUTS[1]},
        "seed": seed,
    }
    return avm
