"""The IAAO ratio study: how close assessed (here: modelled) values are to sale prices.

Definitions follow the International Association of Assessing Officers' *Standard on Ratio
Studies* (IAAO, 2013; April 2013 revision), §§ 9.2 (median ratio), 9.4 (COD), 9.5 (PRD) and
Appendix B/§ 9.5.2 (PRB), and its Table 1-3 performance standards for residential property:

- ratio = value / price; ``median_ratio`` the median of the ratios (level; 0.90–1.10);
- COD = 100 × mean |ratio − median| / median (uniformity; 5.0–15.0 for residential, the
  lower bound flagging sales chasing or a model fitted to the very sales it is tested on);
- PRD = mean ratio / (Σ value / Σ price), the weighted mean (vertical equity; 0.98–1.03);
- PRB: the coefficient of the regression of (ratio − median)/median on
  ln((value / median + price) / 2) / ln 2, i.e. the percentage change of the ratio when the
  value proxy doubles (vertical equity; −0.05..+0.05 acceptable; a 95% interval is reported);
- PPE10 / PPE20: the share of values within 10% / 20% of the price (|ratio − 1| ≤ 0.10);
- MdAPE: the median absolute percentage error, 100 × median |ratio − 1|.

Pure numpy; no fitting of anything: the same function checks the model on its held-out split,
on a CSV (``finedge collateral evaluate``) and on each quarter's sales.
"""

from __future__ import annotations

import math

import numpy as np

IAAO = {
    "median_ratio": (0.90, 1.10),
    "cod": (5.0, 15.0),
    "prd": (0.98, 1.03),
    "prb": (-0.05, 0.05),
}


def ratio_study(predicted, actual) -> dict:
    """The study of ``predicted`` values against ``actual`` sale prices (same length, prices
    positive). Figures are plain floats (JSON-ready); ``iaao`` maps each standard's figure to
    ``True`` (inside IAAO's range) or ``False``, and ``iaao_pass`` is all of them."""
    value = np.asarray(predicted, dtype=float).ravel()
    price = np.asarray(actual, dtype=float).ravel()
    if value.shape != price.shape:
        raise ValueError("predicted and actual differ in length")
    keep = np.isfinite(value) & np.isfinite(price) & (price > 0) & (value > 0)
    value, price = value[keep], price[keep]
    n = int(value.size)
    if n == 0:
        return {"n": 0}
    ratio = value / price
    median = float(np.median(ratio))
    cod = 100.0 * float(np.mean(np.abs(ratio - median))) / median
    prd = float(np.mean(ratio)) / (float(value.sum()) / float(price.sum()))
    prb, prb_ci = _prb(ratio, value, price, median)
    err = np.abs(ratio - 1.0)
    out = {
        "n": n,
        "median_ratio": round(median, 4),
        "mean_ratio": round(float(np.mean(ratio)), 4),
        "cod": round(cod, 2),
        "prd": round(prd, 4),
        "prb": None if prb is None else round(prb, 4),
        "prb_ci95": prb_ci,
        "ppe10": round(100.0 * float(np.mean(err <= 0.10 + 1e-9)), 2),
        "ppe20": round(100.0 * float(np.mean(err <= 0.20 + 1e-9)), 2),
        "mdape": round(100.0 * float(np.median(err)), 2),
    }
    checks = {}
    for key, (low, high) in IAAO.items():
        figure = out[key]
        checks[key] = figure is not None and low <= figure <= high
    out["iaao"] = checks
    out["iaao_pass"] = all(checks.values())
    return out


def _prb(ratio, value, price, median) -> tuple[float | None, list[float] | None]:
    """IAAO 2013, Appendix B: regress the percentage difference of each ratio from the median,
    (ratio − median)/median, on log2 of the proxy ((value/median) + price)/2 (the average of the
    price and the value restated at the median level, so that neither dominates)."""
    if ratio.size < 3:
        return None, None
    pct = (ratio - median) / median
    proxy = np.log((value / median + price) / 2.0) / math.log(2.0)
    x = proxy - proxy.mean()
    sxx = float(np.dot(x, x))
    if sxx <= 0:
        return None, None
    slope = float(np.dot(x, pct - pct.mean())) / sxx
    resid = pct - pct.mean() - slope * x
    dof = ratio.size - 2
    se = math.sqrt(float(np.dot(resid, resid)) / dof / sxx) if dof > 0 else 0.0
    return slope, [round(slope - 1.96 * se, 4), round(slope + 1.96 * se, 4)]
