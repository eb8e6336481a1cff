"""Graph algorithms on arrays (numpy, scipy.sparse): no database, no Python-level loops over
edges, so that they run on millions of enterprises.

Nodes are integers: enterprises ``0..n_enterprises-1``, then persons.  Edges are parallel
arrays (``src``, ``dst``, ``kind`` code, ``share``, ``amount``).

- ``k_hop`` / ``k_hop_batch``: related parties within k hops, by CSR frontier expansion: each
  hop gathers the neighbour lists of the whole frontier with one vectorised index computation,
  and a sorted key array (query * n + node) de-duplicates per query.
- ``strong_components``: guarantee circles are the strongly connected components of size >= 2
  of the guarantee graph (scipy.sparse.csgraph, Tarjan/Pearce in C).
- ``mutual_pairs``: two enterprises guaranteeing each other.
- ``propagate``: risk contagion as max-product propagation with a hop limit: a node's score is
  the strongest (seed score x product of edge weights) over paths of at most ``max_hops``
  edges; weights below 1 make it cycle-safe.
- ``ultimate_controllers``: multiply equity shares along holding chains and add up over
  paths; a path never revisits a node (cycle-safe) and stops at ``max_depth``.
- ``graph_metrics``: per-enterprise measures for features and tags, in one vectorised pass
  (``metric_rows``: the same as one dict per enterprise).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from backend.risk.catalog import EDGE_KIND_CODE, OWNERSHIP_KINDS


@dataclass
class GraphData:
    n_enterprises: int
    n_persons: int
    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray
    share: np.ndarray
    amount: np.ndarray
    node_ids: dict[str, np.ndarray] = field(default_factory=dict)  # db ids by node type

    @property
    def n(self) -> int:
        return self.n_enterprises + self.n_persons

    def mask(self, *kinds: str) -> np.ndarray:
        return np.isin(self.kind, [EDGE_KIND_CODE[k] for k in kinds])

    @classmethod
    def empty(cls, n_enterprises: int = 0) -> GraphData:
        z = np.zeros(0, dtype=np.int64)
        return cls(
            n_enterprises, 0, z, z.copy(), z.astype(np.int8), z.astype(float), z.astype(float)
        )


def adjacency(n: int, src: np.ndarray, dst: np.ndarray, *, symmetric: bool = False):
    """Boolean CSR adjacency (duplicates merged, self-loops dropped)."""
    index_dtype = np.int32 if n < 2**31 - 1 else np.int64
    keep = src != dst
    src, dst = src[keep].astype(index_dtype), dst[keep].astype(index_dtype)  # small first
    if symmetric:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    matrix = sp.csr_array((np.ones(len(src), dtype=bool), (src, dst)), shape=(n, n))
    matrix.sum_duplicates()
    return matrix


def _gather(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray, owners: np.ndarray):
    """Neighbours of every row in ``rows``, each tagged with the owner (query) of its row."""
    starts = indptr[rows].astype(np.int64)
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return owners[:0], indices[:0]
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(
        total, dtype=np.int64
    )
    return np.repeat(owners, lengths), indices[offsets]


def _unique_sorted(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    if len(keys) < 2:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def _without(keys: np.ndarray, sorted_exclude: np.ndarray) -> np.ndarray:
    if len(sorted_exclude) == 0 or len(keys) == 0:
        return keys
    pos = np.searchsorted(sorted_exclude, keys)
    pos[pos == len(sorted_exclude)] = 0
    return keys[sorted_exclude[pos] != keys]


def _merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two sorted, disjoint key arrays merged (numpy's vectorised sort of nearly sorted
    input beats a searchsorted-based merge here)."""
    return np.sort(np.concatenate([a, b]))


def _k_hop_chunk(indptr, indices, seeds: np.ndarray, k: int, n: int):
    # keys are query * n + node: int32 when they fit (half the bytes to sort), else int64
    dtype = np.int32 if len(seeds) * n < 2**31 else np.int64
    width = dtype(n)
    queries = np.arange(len(seeds), dtype=dtype)
    visited = np.sort(queries * width + seeds.astype(dtype))
    found = np.zeros(0, dtype=dtype)
    frontier_q, frontier_n = queries, seeds
    for _ in range(k):
        owners, nodes = _gather(indptr, indices, frontier_n, frontier_q)
        keys = _without(_unique_sorted(owners * width + nodes.astype(dtype)), visited)
        if len(keys) == 0:
            break
        found = _merge(found, keys)
        visited = _merge(visited, keys)
        frontier_q, frontier_n = keys // width, (keys % width).astype(np.int64)
    offsets = np.searchsorted(found // width, np.arange(len(seeds) + 1, dtype=dtype))
    return offsets, (found % width).astype(np.int64)


def k_hop_batch(
    indptr: np.ndarray, indices: np.ndarray, seeds: Sequence[int] | np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes within ``k`` hops of each seed (the seed itself excluded), as a CSR-like pair:
    the nodes of seed ``i`` are ``nodes[offsets[i]:offsets[i+1]]``, ascending.  Queries are
    processed in chunks small enough for 32-bit keys."""
    seeds = np.asarray(seeds, dtype=np.int64)
    n = len(indptr) - 1
    indptr = np.asarray(indptr, dtype=np.int64)
    per_chunk = max(1, (2**31 - 1) // max(n, 1))
    offsets, nodes, base = [], [], 0
    for start in range(0, len(seeds), per_chunk):
        off, found = _k_hop_chunk(indptr, indices, seeds[start : start + per_chunk], k, n)
        offsets.append(off[:-1].astype(np.int64) + base)
        nodes.append(found)
        base += len(found)
    offsets.append(np.asarray([base], dtype=np.int64))
    return np.concatenate(offsets), (np.concatenate(nodes) if nodes else np.zeros(0, np.int64))


def k_hop(indptr: np.ndarray, indices: np.ndarray, seed: int, k: int) -> np.ndarray:
    _offsets, nodes = k_hop_batch(indptr, indices, [seed], k)
    return nodes


def strong_components(
    n: int, src: np.ndarray, dst: np.ndarray, *, min_size: int = 2
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Component label per node, and the members of each component of at least ``min_size``
    nodes (largest first, members ascending)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    matrix = adjacency(n, np.asarray(src), np.asarray(dst))
    _count, labels = connected_components(matrix, directed=True, connection="strong")
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= min_size)
    if len(big) == 0:
        return labels, []
    members = np.flatnonzero(np.isin(labels, big))
    order = np.argsort(labels[members], kind="stable")
    members = members[order]
    bounds = np.flatnonzero(np.diff(labels[members])) + 1
    groups = np.split(members, bounds)
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    return labels, groups


def mutual_pairs(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Pairs (a, b), a < b, with edges both a->b and b->a."""
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    if len(src) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    span = int(max(src.max(), dst.max())) + 1
    forward = np.unique(src * span + dst)
    backward = dst * span + src
    hit = np.isin(backward, forward) & (src < dst)
    pairs = np.unique(np.stack([src[hit], dst[hit]], axis=1), axis=0)
    return pairs


@dataclass
class Propagation:
    score: np.ndarray
    origin: np.ndarray  # the seed a node's score comes from (-1: none)
    hops: np.ndarray


def propagate(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    seeds: np.ndarray,
    *,
    max_hops: int = 3,
) -> Propagation:
    """Max-product propagation along directed weighted edges (weights in (0, 1))."""
    score = np.asarray(seeds, dtype=float).copy()
    origin = np.where(score > 0, np.arange(n), -1)
    hops = np.zeros(n, dtype=np.int64)
    src, dst, weight = np.asarray(src), np.asarray(dst), np.asarray(weight, dtype=float)
    for _ in range(max_hops):
        live = score[src] > 0
        if not live.any():
            break
        e_src, e_dst = src[live], dst[live]
        candidate = score[e_src] * weight[live]
        better = candidate > score[e_dst] + 1e-12
        if not better.any():
            break
        e_src, e_dst, candidate = e_src[better], e_dst[better], candidate[better]
        order = np.lexsort((-candidate, e_dst))
        e_src, e_dst, candidate = e_src[order], e_dst[order], candidate[order]
        first = np.ones(len(e_dst), dtype=bool)
        first[1:] = e_dst[1:] != e_dst[:-1]
        e_src, e_dst, candidate = e_src[first], e_dst[first], candidate[first]
        new_origin, new_hops = origin[e_src], hops[e_src] + 1
        score[e_dst], origin[e_dst], hops[e_dst] = candidate, new_origin, new_hops
    return Propagation(score, origin, hops)


@dataclass
class Holding:
    holder: Hashable
    share: float
    paths: int
    example_path: tuple
    truncated: bool = False


def ultimate_controllers(
    holders_of: Mapping[Hashable, Sequence[tuple[Hashable, float]]],
    target: Hashable,
    *,
    max_depth: int = 10,
    min_share: float = 1e-4,
) -> list[Holding]:
    """Ultimate holders of ``target`` with their integrated share (sum over holding chains of
    the product of shares along the chain), largest first.

    A chain ends at a holder with no holders of its own outside the chain (a natural person, a
    state owner, or the last enterprise of a cross-holding loop), or at ``max_depth`` (then the
    result is marked ``truncated``).  Chains whose product falls below ``min_share`` are cut."""
    shares: dict[Hashable, float] = defaultdict(float)
    counts: dict[Hashable, int] = defaultdict(int)
    best_path: dict[Hashable, tuple[float, tuple]] = {}
    truncated: set[Hashable] = set()
    stack: list[tuple[Hashable, float, tuple]] = [(target, 1.0, (target,))]
    while stack:
        node, share, path = stack.pop()
        outside = [(h, s) for h, s in holders_of.get(node, ()) if h not in path]
        upstream = [(h, s) for h, s in outside if share * s >= min_share]
        at_cap = len(path) > max_depth
        if node != target and (not outside or at_cap):
            shares[node] += share
            counts[node] += 1
            if share > best_path.get(node, (0.0, ()))[0]:
                best_path[node] = (share, path)
            if at_cap and upstream:
                truncated.add(node)
            continue
        for holder, s in upstream:
            stack.append((holder, share * s, (*path, holder)))
    result = [
        Holding(h, shares[h], counts[h], tuple(reversed(best_path[h][1])), h in truncated)
        for h in shares
    ]
    result.sort(key=lambda x: (-x.share, str(x.holder)))
    return result


def controller_of(holdings: Sequence[Holding], threshold: float = 0.25) -> Holding | None:
    """The ultimate controller: the largest integrated holder at or above ``threshold``,
    unless another holder ties with it."""
    if not holdings or holdings[0].share < threshold:
        return None
    if len(holdings) > 1 and abs(holdings[1].share - holdings[0].share) < 1e-9:
        return None
    return holdings[0]


def graph_metrics(g: GraphData, *, related_hops: int = 2) -> dict[str, np.ndarray]:
    """Per-enterprise measures (arrays of length n_enterprises)."""
    ne, n = g.n_enterprises, g.n
    out: dict[str, np.ndarray] = {}
    gm = g.mask("guarantee")
    gs, gd = g.src[gm], g.dst[gm]
    out["guarantees_given"] = np.bincount(gs, minlength=n)[:ne].astype(float)
    out["guarantees_received"] = np.bincount(gd, minlength=n)[:ne].astype(float)
    out["guarantee_amount_given"] = np.bincount(gs, weights=g.amount[gm], minlength=n)[:ne]
    _labels, circles = strong_components(n, gs, gd)
    size = np.zeros(n)
    circle_id = np.full(n, -1, dtype=np.int64)
    for number, members in enumerate(circles):
        size[members] = len(members)
        circle_id[members] = number
    out["in_guarantee_circle"] = (size[:ne] >= 2).astype(float)
    out["guarantee_circle_size"] = size[:ne]
    out["guarantee_circle_id"] = circle_id[:ne].astype(float)
    pairs = mutual_pairs(gs, gd)
    out["mutual_guarantees"] = np.bincount(pairs.ravel(), minlength=n)[:ne].astype(float)
    om = g.mask(*OWNERSHIP_KINDS)
    out["shareholders"] = np.bincount(g.dst[om], minlength=n)[:ne].astype(float)
    grp = g.mask("group")
    out["group_member"] = (
        (np.bincount(g.src[grp], minlength=n) + np.bincount(g.dst[grp], minlength=n))[:ne] > 0
    ).astype(float)
    tm = g.mask("trade")
    out["trade_suppliers"] = np.bincount(g.dst[tm], minlength=n)[:ne].astype(float)
    if ne and len(g.src):
        a = adjacency(n, g.src, g.dst, symmetric=True)
        offsets, _nodes = k_hop_batch(a.indptr, a.indices, np.arange(ne), related_hops)
        out["related_2hop"] = np.diff(offsets).astype(float)
    else:
        out["related_2hop"] = np.zeros(ne)
    return out


def metric_rows(graph: GraphData) -> list[dict[str, float]]:
    arrays = graph_metrics(graph)
    names = list(arrays)
    return [{name: float(arrays[name][i]) for name in names} for i in range(graph.n_enterprises)]
