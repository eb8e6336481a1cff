"""Large synthetic graphs for the graph benchmark (``finedge bench graph``): millions of
enterprises as arrays only, no records, no histories."""

from __future__ import annotations

import numpy as np

from backend.risk import catalog
from backend.risk.graph.algorithms import GraphData


def bench_graph(n: int, *, edges_per_node: int = 3, seed: int = 1, block: int = 50) -> GraphData:
    """A large synthetic graph as arrays: ``edges_per_node`` edges per enterprise split between
    guarantees (mostly inside blocks of ``block`` nearby enterprises, which makes realistic
    small circles), equity (holder with a lower index: chains) and trade (anywhere)."""
    rng = np.random.default_rng(seed)
    per_kind = [n * edges_per_node // 3] * 3
    per_kind[0] += n * edges_per_node - sum(per_kind)
    g_src = rng.integers(0, n, per_kind[0])
    g_dst = np.minimum((g_src // block) * block + rng.integers(0, block, per_kind[0]), n - 1)
    e_dst = rng.integers(1, n, per_kind[1])
    e_src = (rng.random(per_kind[1]) * e_dst).astype(np.int64)
    t_src = rng.integers(0, n, per_kind[2])
    t_dst = rng.integers(0, n, per_kind[2])
    src = np.concatenate([g_src, e_src, t_src]).astype(np.int64)
    dst = np.concatenate([g_dst, e_dst, t_dst]).astype(np.int64)
    codes = catalog.EDGE_KIND_CODE
    kind = np.concatenate(
        [
            np.full(per_kind[0], codes["guarantee"], dtype=np.int8),
            np.full(per_kind[1], codes["equity"], dtype=np.int8),
            np.full(per_kind[2], codes["trade"], dtype=np.int8),
        ]
    )
    share = np.full(len(src), np.nan)
    share[per_kind[0] : per_kind[0] + per_kind[1]] = rng.uniform(0.05, 1.0, per_kind[1])
    amount = np.zeros(len(src))
    amount[: per_kind[0]] = rng.lognormal(15, 1, per_kind[0])
    return GraphData(n, 0, src, dst, kind, share, amount)
