"""A synthetic retail client base with planted, heterogeneous uplift: every estimate the
marketing area makes (conversion uplift, Qini, AUM growth against control, an uplift model's
ranking) has a ground truth here.

Pure numpy/pandas, vectorised: a million clients in a few seconds, a day of ten million
transactions in well under a minute. Everything is drawn from ``numpy.random.default_rng(seed)``
so the same seed gives the same frames.

``clients(n, seed)`` — one row per client with the features the bank knows (tier, AUM, age,
tenure, digital activity, holdings, the days until the nearest wealth or time-deposit
maturity) and the truth columns, prefixed ``true_``:

- ``true_p0``: the probability of converting (renewing or buying the campaign's product)
  within a campaign's window when not contacted;
- ``true_uplift``: what contact adds to that probability (negative for a few: "sleeping dogs"
  whom a call annoys). Large for affluent and wealth clients who use the app and whose product
  matures within 30 days, small for the mass tier, negative for private clients over 65;
- ``true_growth0`` / ``true_growth_uplift``: AUM growth over the window without and with
  contact (fractions).

``outcomes(frame, treated, seed)`` draws what happened: converted (0/1), AUM after, tier after.
``holdings(frame, seed, as_of)`` gives each client's products (demand and time deposits,
wealth products with maturities, loans). ``transactions(frame, n, day, seed)`` a day of the
core banking feed in time order, with large movements, early repayments and the first
transaction of dormant clients planted in known proportions.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

TIERS = ("mass", "affluent", "wealth", "private")
# AUM (CNY) at which each tier starts: 50 thousand, 600 thousand, 6 million
TIER_FLOORS = (0.0, 50_000.0, 600_000.0, 6_000_000.0)
OUTLETS = ("BR001", "BR002", "BR003", "BR004")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"

TXN_KINDS = (
    "salary",
    "deposit",
    "withdrawal",
    "transfer_in",
    "transfer_out",
    "card",
    "wealth_buy",
    "wealth_redeem",
    "loan_repay",
    "loan_prepay",
)
# the share of each kind in an ordinary day's feed (the rest of the mix is planted)
TXN_MIX = (0.06, 0.10, 0.12, 0.12, 0.12, 0.40, 0.03, 0.03, 0.015, 0.005)
TXN_CHANNELS = ("counter", "app", "atm", "pos", "batch")


def tier_of(aum: np.ndarray) -> np.ndarray:
    """The tier index (0 mass .. 3 private) of each AUM."""
    return np.searchsorted(np.asarray(TIER_FLOORS[1:]), np.asarray(aum, dtype=float), "right")


def clients(n: int, seed: int = 0, outlets: tuple[str, ...] = OUTLETS) -> pd.DataFrame:
    """``n`` synthetic retail clients with their truth columns (module docstring)."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(46, 14, n), 18, 90).astype(np.int16)
    tenure = np.clip(rng.gamma(2.0, 4.0, n), 0.1, 30.0)
    # AUM: log-normal, older and longer-standing clients richer
    log_aum = rng.normal(10.6 + 0.012 * (age - 46) + 0.04 * tenure, 1.7, n)
    aum = np.round(np.exp(np.clip(log_aum, 4.0, 17.5)), 2)
    tier = tier_of(aum)
    digital = rng.random(n) < np.clip(0.85 - 0.012 * (age - 30), 0.1, 0.95)
    has_wealth = rng.random(n) < np.clip(0.15 + 0.22 * tier, 0.0, 0.9)
    has_time = rng.random(n) < 0.45
    # days until the nearest wealth product's maturity (NaN: none held)
    wealth_days = np.where(has_wealth, rng.integers(1, 366, n), -1).astype(np.int32)
    time_days = np.where(has_time, rng.integers(1, 731, n), -1).astype(np.int32)
    has_loan = rng.random(n) < 0.22
    loan_balance = np.where(has_loan, np.round(rng.lognormal(12.0, 0.8, n), 2), 0.0)
    risk_level = np.clip(np.round(rng.normal(3 - 0.02 * (age - 46), 1.0, n)), 1, 5).astype(np.int8)
    txn_90d = rng.poisson(np.where(digital, 40, 12) * (1 + 0.3 * tier))
    dormant = rng.random(n) < np.where(txn_90d < 5, 0.5, 0.01)
    maturing_30 = ((wealth_days > 0) & (wealth_days <= 30)) | ((time_days > 0) & (time_days <= 30))

    # the truth: base conversion and planted heterogeneous uplift
    p0 = np.clip(
        0.04 + 0.03 * tier + 0.10 * maturing_30 + 0.02 * digital - 0.03 * dormant, 0.005, 0.9
    )
    mid = (tier == 1) | (tier == 2)
    uplift = (
        0.01
        + 0.06 * mid * digital
        + 0.08 * maturing_30 * mid
        + 0.03 * maturing_30 * (tier == 0)
        - 0.01 * dormant
        - 0.07 * ((tier == 3) & (age >= 65))
    )
    uplift = np.clip(uplift, -0.08, 0.30)
    uplift = np.minimum(uplift, 0.98 - p0)
    growth0 = 0.01 + 0.01 * tier
    growth_uplift = 0.02 + 0.15 * uplift  # contact that converts moves money in

    gender = np.where(rng.random(n) < 0.52, "F", "M")
    surname = rng.integers(0, len(SURNAMES), n)
    given = rng.integers(0, len(GIVEN), (n, 2))
    names = [
        f"{SURNAMES[s]}{GIVEN[a]}{GIVEN[b]}"
        for s, a, b in zip(surname, given[:, 0], given[:, 1], strict=True)
    ]
    outlet_idx = rng.integers(0, len(outlets), n)
    frame = pd.DataFrame(
        {
            "client_no": [f"C{seed % 1000:03d}{i:08d}" for i in range(n)],
            "name": names,
            "outlet": np.asarray(outlets, dtype=object)[outlet_idx],
            "age": age,
            "gender": gender,
            "tenure_years": np.round(tenure, 2),
            "aum": aum,
            "tier": np.asarray(TIERS, dtype=object)[tier],
            "tier_idx": tier.astype(np.int8),
            "risk_level": risk_level,
            "digital_active": digital,
            "has_wealth": has_wealth,
            "wealth_maturity_days": wealth_days,
            "has_time_deposit": has_time,
            "time_maturity_days": time_days,
            "loan_balance": loan_balance,
            "txn_90d": txn_90d.astype(np.int32),
            "dormant": dormant,
            "maturing_30d": maturing_30,
            "true_p0": p0,
            "true_uplift": uplift,
            "true_growth0": growth0,
            "true_growth_uplift": growth_uplift,
        }
    )
    return frame


FEATURES = (
    "age",
    "tenure_years",
    "aum",
    "tier_idx",
    "risk_level",
    "digital_active",
    "has_wealth",
    "wealth_maturity_days",
    "has_time_deposit",
    "time_maturity_days",
    "loan_balance",
    "txn_90d",
    "dormant",
    "maturing_30d",
)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a model may read (never a ``true_`` one), as floats; log AUM and loans."""
    x = frame.loc[:, list(FEATURES)].astype(float)
    x["aum"] = np.log1p(x["aum"])
    x["loan_balance"] = np.log1p(x["loan_balance"])
    return x


def outcomes(frame: pd.DataFrame, treated: np.ndarray, seed: int = 1) -> pd.DataFrame:
    """What happened over a campaign's window to each client, treated (True) or not:
    ``converted`` (0/1), ``aum_after`` and ``tier_after`` (a tier up when AUM crossed a floor)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(treated, dtype=bool)
    p = np.clip(frame["true_p0"].to_numpy() + t * frame["true_uplift"].to_numpy(), 0.0, 1.0)
    converted = (rng.random(len(frame)) < p).astype(np.int8)
    growth = (
        frame["true_growth0"].to_numpy()
        + t * frame["true_growth_uplift"].to_numpy()
        + converted * 0.05
        + rng.normal(0.0, 0.03, len(frame))
    )
    aum_after = np.round(frame["aum"].to_numpy() * np.maximum(1.0 + growth, 0.0), 2)
    tier_after = np.maximum(tier_of(aum_after), frame["tier_idx"].to_numpy())
    return pd.DataFrame(
        {
            "treated": t,
            "converted": converted,
            "aum_after": aum_after,
            "tier_after": np.asarray(TIERS, dtype=object)[tier_after],
            "tier_up": tier_after > frame["tier_idx"].to_numpy(),
        },
        index=frame.index,
    )


def holdings(frame: pd.DataFrame, seed: int = 2, as_of: date | None = None) -> pd.DataFrame:
    """Each client's products: a demand deposit for everyone, time deposits and wealth products
    (maturing on the days ``clients`` drew), loans. Amounts split the client's AUM."""
    rng = np.random.default_rng(seed)
    as_of = as_of or date.today()
    n = len(frame)
    aum = frame["aum"].to_numpy()
    has_w = frame["has_wealth"].to_numpy()
    has_t = frame["has_time_deposit"].to_numpy()
    share_w = np.where(has_w, rng.uniform(0.3, 0.6, n), 0.0)
    share_t = np.where(has_t, rng.uniform(0.2, 0.4, n) * (1 - share_w), 0.0)
    parts = []
    idx = np.arange(n)

    def part(mask, kind, code, name, amount, days, rate):
        sel = idx[mask]
        matures = [
            (as_of + timedelta(days=int(d))) if d is not None and d > 0 else None
            for d in (days[sel] if days is not None else [None] * len(sel))
        ]
        opened = [as_of - timedelta(days=int(x)) for x in rng.integers(30, 720, len(sel))]
        parts.append(
            pd.DataFrame(
                {
                    "client": sel,
                    "kind": kind,
                    "product_code": code,
                    "product_name": name,
                    "amount": np.round(amount[sel], 2),
                    "rate": rate,
                    "opened_on": opened,
                    "matures_on": matures,
                }
            )
        )

    part(np.ones(n, bool), "demand", "DD-STD", "活期储蓄", aum * (1 - share_w - share_t), None, 0.2)
    part(
        has_t,
        "time",
        "TD-1Y",
        "一年期定期存款",
        aum * share_t,
        frame["time_maturity_days"].to_numpy(),
        1.45,
    )
    part(
        has_w,
        "wealth",
        "WM-180",
        "稳享180天理财",
        aum * share_w,
        frame["wealth_maturity_days"].to_numpy(),
        2.6,
    )
    has_l = frame["loan_balance"].to_numpy() > 0
    part(has_l, "loan", "LN-CONS", "个人消费贷款", frame["loan_balance"].to_numpy(), None, 3.85)
    out = pd.concat(parts, ignore_index=True)
    out["ref"] = [f"H{seed % 1000:03d}{i:09d}" for i in range(len(out))]
    return out


def transactions(
    frame: pd.DataFrame, n: int, day: date | None = None, seed: int = 3, with_refs: bool = True
) -> pd.DataFrame:
    """A day of ``n`` core banking transactions over the clients of ``frame``, in time order:
    ``client`` (row position in ``frame``), ``at`` (datetime64), ``amount`` (signed CNY,
    two places), ``kind``, ``channel``, ``ref``.

    Digital and rich clients transact more. Planted: about 0.5% of rows are large movements
    (several times the client's AUM tier's threshold), loan prepayments are ``loan_prepay``
    rows, and a dormant client's transaction is a reactivation."""
    rng = np.random.default_rng(seed)
    day = day or date.today()
    weight = (1.0 + 2.0 * frame["digital_active"].to_numpy()) * (1.0 + frame["tier_idx"].to_numpy())
    weight = weight * np.where(frame["dormant"].to_numpy(), 0.02, 1.0)
    weight = weight / weight.sum()
    who = rng.choice(len(frame), size=n, p=weight)
    kind_idx = rng.choice(len(TXN_KINDS), size=n, p=np.asarray(TXN_MIX) / sum(TXN_MIX))
    sign = np.where(
        np.isin(kind_idx, [0, 1, 3, 7]), 1.0, -1.0
    )  # salary, deposit, transfer_in, wealth_redeem come in
    base = np.exp(rng.normal(6.0, 1.4, n))  # typical amounts around 400 CNY
    aum = frame["aum"].to_numpy()[who]
    large = rng.random(n) < 0.005
    base = np.where(large, np.maximum(aum, 1.0) * rng.uniform(0.3, 1.5, n) + 20_000, base)
    amount = np.round(sign * np.minimum(base, 5e8), 2)
    seconds = np.sort(rng.integers(0, 86_400, n))
    start = np.datetime64(datetime.combine(day, time(0)))
    at = start + seconds.astype("timedelta64[s]")
    channel = rng.choice(len(TXN_CHANNELS), size=n, p=(0.1, 0.55, 0.1, 0.2, 0.05))
    out = pd.DataFrame(
        {
            "client": who.astype(np.int64),
            "at": at,
            "amount": amount,
            "kind": pd.Categorical.from_codes(kind_idx, TXN_KINDS),
            "channel": pd.Categorical.from_codes(channel, TXN_CHANNELS),
        }
    )
    if with_refs:
        out["ref"] = [f"T{day:%Y%m%d}{seed % 100:02d}{i:010d}" for i in range(n)]
    return out
