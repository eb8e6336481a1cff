"""Benchmark rows of the uplift model (docs/CONTRACT.md section 4; wired into ``finedge bench
marketing`` by the area's benchmark module).

For each meta-learner (``learners.METHODS``): train on synthetic clients with planted uplift
(``synth.clients``, randomised 3:1 with the known control share), then rank *held-out*
clients (another seed) and measure the area under their Qini curve (``evaluate.auuc``). The
baseline is random targeting on the same held-out clients in the same run: the straight Qini
line, whose area is half the end point. ``ratio`` = model AUUC / random AUUC (higher is
better; the planted-uplift oracle's ratio is in ``params.oracle_ratio`` as the ceiling).
``params.train_s`` is the training time, ``params.rank_corr`` the rank correlation of the
predictions with the planted ``true_uplift``.

``quick``: 20,000 training and 20,000 held-out clients; full: 200,000 and 200,000.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from backend.marketing import synth
from backend.marketing.uplift import evaluate, learners

CONTROL_SHARE = 0.25


def _say(message: str) -> None:
    print(f"marketing uplift: {message}", file=sys.stderr, flush=True)


def _campaign(n: int, seed: int):
    frame = synth.clients(n, seed=seed)
    treated = np.random.default_rng(seed + 1).random(n) >= CONTROL_SHARE
    out = synth.outcomes(frame, treated, seed=seed + 2)
    return frame, synth.features(frame), treated, out["converted"].to_numpy()


def rows(quick: bool) -> list[dict]:
    n_train, n_test = (20_000, 20_000) if quick else (200_000, 200_000)
    _say(f"drawing {n_train} training and {n_test} held-out clients")
    _f, x_train, t_train, y_train = _campaign(n_train, seed=101)
    f_test, x_test, t_test, y_test = _campaign(n_test, seed=202)
    truth = f_test["true_uplift"].to_numpy()
    oracle = evaluate.qini_curve(y_test, t_test, truth)
    out = []
    for method in learners.METHODS:
        model = learners.make(method, synth.FEATURES, seed=0)
        started = time.perf_counter()
        model.fit(x_train, t_train, y_train, control_share=CONTROL_SHARE)
        train_s = time.perf_counter() - started
        score = model.predict(x_test)
        qini = evaluate.qini_curve(y_test, t_test, score)
        corr = float(pd.Series(score).corr(pd.Series(truth), method="spearman"))
        _say(f"{method}: AUUC ratio {qini['auuc_ratio']:.3f}, trained in {train_s:.1f} s")
        out.append(
            {
                "bench": "marketing",
                "metric": f"uplift_auuc_{method}",
                "value": qini["auuc"],
                "unit": "incremental conversions per client (area)",
                "baseline": "random targeting (straight Qini line) on the same held-out clients",
                "baseline_value": qini["random_auuc"],
                "ratio": qini["auuc_ratio"],
                "params": {
                    "method": method,
                    "train_clients": n_train,
                    "held_out_clients": n_test,
                    "control_share": CONTROL_SHARE,
                    "train_s": round(train_s, 3),
                    "qini_coefficient": qini["qini_coefficient"],
                    "rank_corr": round(corr, 4),
                    "oracle_ratio": oracle["auuc_ratio"],
                    "uplift_at_30pct": evaluate.uplift_at_k(y_test, t_test, score, 0.3)["uplift"],
                },
            }
        )
    return out
