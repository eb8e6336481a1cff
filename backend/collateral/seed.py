"""Demo AVM: a champion trained on a generated market (``avm.market``: 杭州 and 苏州) and
registered, so that valuations work from the first start.

How many sales: 3,000 with the demo's seed (``make demo``: ``finedge seed --enterprises N``
or ``--cars N``), 1,000 otherwise (plain ``finedge seed`` and every test app). The trained
model is cached in the process keyed by the generator's parameters, so every test app of a
test run registers the same artifact without training again (about 2 s once).

Idempotent: nothing is done when a champion exists. The generated sales are not stored in
``col_sales`` here (the monitoring part owns that table and its seeding).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collateral.models import AvmModel
from backend.platform.context import SYSTEM

MARKET_SEED = 2026
N_DEMO = 3000
N_SMALL = 1000

_trained: dict[tuple, object] = {}
_lock = threading.Lock()


def demo_model(n: int = N_SMALL, seed: int = MARKET_SEED):
    """The AVM (a ``TrainedAVM``) trained on ``n`` generated sales of the demo market, cached
    per process (imported here: pandas and scikit-learn load only when a model is needed)."""
    from backend.collateral.avm import parse_map, train
    from backend.collateral.avm.market import TRAIN_MAP, generate_sales

    key = (n, seed, "杭州,苏州")
    with _lock:
        if key not in _trained:
            frame = generate_sales(n, seed=seed)
            _trained[key] = train(frame, parse_map(TRAIN_MAP), seed=0)
        return _trained[key]


def seed_avm(session: Session, options) -> dict:
    if session.scalar(select(AvmModel.id).where(AvmModel.status == "champion")) is not None:
        return {"avm_models": 0}
    from backend.collateral import modelstore

    demo = bool(getattr(options, "enterprises", 0) or getattr(options, "cars", 0))
    n = N_DEMO if demo else N_SMALL
    started = time.perf_counter()
    trained = demo_model(n)
    model = modelstore.register(session, SYSTEM, trained, status="champion")
    return {
        "avm_models": 1,
        "avm_version": model.version,
        "avm_sales": n,
        "avm_seconds": round(time.perf_counter() - started, 1),
    }
