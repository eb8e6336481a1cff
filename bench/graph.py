"""``finedge bench graph``: guarantee-circle detection and 2-hop related-party queries on
synthetic graphs of 100,000 and 1,000,000 enterprises (3 edges each: guarantees inside local
blocks, equity chains, trade), ours (numpy + scipy.sparse, backend/risk/graph/algorithms.py)
against networkx on the same edge arrays in the same run.

- circles: build the directed guarantee graph from the edge arrays and find its strongly
  connected components of 2+ nodes (ours: CSR + scipy.sparse.csgraph; networkx: DiGraph +
  strongly_connected_components).  Time includes building the graph on both sides.
- 2-hop: the related parties within 2 hops (either direction, any edge kind) of Q random
  enterprises, on an already built graph (ours: one batched CSR frontier expansion;
  networkx: single_source_shortest_path_length(cutoff=2) per enterprise).
- Every measurement runs in a fresh (spawned) process that rebuilds the same graph from the
  same seed, so that neither side inherits the other's heap.  Peak memory is the process's
  peak resident set (VmHWM, reset through /proc/self/clear_refs once the inputs are built and
  freed memory is trimmed) above its resident set at that moment: real memory, numpy, scipy
  and Python objects alike, measured in the same untraced run as the time (falls back to
  ru_maxrss elsewhere).
- Time is the best of several runs (ours 5-7, networkx 1-2: it is 10-100x slower), which
  filters out the noise of a shared machine.
- Results are verified equal (a digest of all circles; of all 2-hop sets) before anything is
  reported.

``--quick``: one graph of 20,000 enterprises and 2,000 queries.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import re
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

MIB = 1024 * 1024
TASKS = ("ours_circles", "nx_circles", "ours_two_hop", "nx_two_hop")


class PeakMemory:
    """Peak resident memory of this process above the moment of ``start``."""

    def __init__(self):
        self.method = "VmHWM"
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the high-water mark to the current resident set
        except OSError:
            self.method = "ru_maxrss"
        self.base = self._rss()

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status") as fh:
            return int(re.search(rf"{key}:\s+(\d+)", fh.read()).group(1)) * 1024

    def _rss(self) -> int:
        if self.method == "VmHWM":
            return self._status("VmRSS")
        return self._maxrss()

    @staticmethod
    def _maxrss() -> int:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024

    def peak_mib(self) -> float:
        top = self._status("VmHWM") if self.method == "VmHWM" else self._maxrss()
        return max(top - self.base, 0) / MIB


def _best(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def _digest_sets(sets) -> str:
    h = hashlib.sha256()
    for members in sets:
        h.update(np.asarray(members, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()


def measure(task: str, n: int, queries: int, seed: int) -> dict[str, Any]:
    """One measurement, meant to run in a fresh process."""
    import networkx as nx

    from backend.risk.graph.algorithms import adjacency, k_hop_batch, strong_components
    from backend.risk.synthetic import bench_graph

    g = bench_graph(n, edges_per_node=3, seed=seed)
    gm = g.mask("guarantee")
    gs, gd = g.src[gm].copy(), g.dst[gm].copy()
    seeds = np.random.default_rng(seed).choice(n, size=min(queries, n), replace=False)
    seed_list = seeds.tolist()
    gc.collect()
    _trim()
    memory = PeakMemory()
    out: dict[str, Any] = {"task": task, "memory_method": memory.method}

    if task == "ours_circles":
        seconds, circles = _best(lambda: strong_components(n, gs, gd)[1], 5)
        out["digest"] = _digest_sets(c for c in circles)
        out["circles"], out["largest"] = len(circles), len(circles[0]) if circles else 0
    elif task == "nx_circles":

        def nx_circles():
            d = nx.DiGraph()
            d.add_nodes_from(range(n))
            d.add_edges_from(zip(gs.tolist(), gd.tolist(), strict=True))
            return [c for c in nx.strongly_connected_components(d) if len(c) > 1]

        seconds, circles = _best(nx_circles, 1)
        ordered = sorted((sorted(c) for c in circles), key=lambda c: (-len(c), c[0]))
        out["digest"] = _digest_sets(ordered)
        out["circles"] = len(ordered)
    elif task == "ours_two_hop":
        a = adjacency(n, g.src, g.dst, symmetric=True)
        seconds, (offsets, nodes) = _best(lambda: k_hop_batch(a.indptr, a.indices, seeds, 2), 7)
        out["digest"] = _digest_sets(nodes[offsets[i] : offsets[i + 1]] for i in range(len(seeds)))
        out["mean_related"] = round(float(np.diff(offsets).mean()), 1)
    elif task == "nx_two_hop":
        h = nx.Graph()
        h.add_nodes_from(range(n))
        h.add_edges_from(
            (a, b) for a, b in zip(g.src.tolist(), g.dst.tolist(), strict=True) if a != b
        )
        seconds, result = _best(
            lambda: [nx.single_source_shortest_path_length(h, s, cutoff=2) for s in seed_list], 2
        )
        out["digest"] = _digest_sets(
            sorted(set(r) - {s}) for r, s in zip(result, seed_list, strict=True)
        )
    else:
        raise ValueError(f"unknown task {task!r}")
    out["seconds"] = seconds
    out["peak_mib"] = memory.peak_mib()
    return out


def _trim() -> None:
    """Give the heap memory freed while building the inputs back to the system before the
    baseline is taken (glibc only), so that the workload cannot reuse already resident pages
    unseen."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _in_fresh_process(task: str, n: int, queries: int, seed: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, task, n, queries, seed).result()


def _row(metric, value, unit, baseline, baseline_value, ratio, params):
    return {
        "bench": "graph",
        "metric": metric,
        "value": round(value, 6),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 6),
        "ratio": round(ratio, 2),
        "params": params,
    }


def bench_size(n: int, queries: int, *, seed: int = 1, quick: bool = False) -> list[dict]:
    import networkx as nx

    r = {task: _in_fresh_process(task, n, queries, seed) for task in TASKS}
    if r["ours_circles"]["digest"] != r["nx_circles"]["digest"]:
        raise AssertionError("guarantee circles differ from networkx")
    if r["ours_two_hop"]["digest"] != r["nx_two_hop"]["digest"]:
        raise AssertionError("2-hop neighbourhoods differ from networkx")
    q = min(queries, n)
    common = {
        "enterprises": n,
        "edges": 3 * n,
        "verified_equal_to_networkx": True,
        "memory": "peak resident set above the start, fresh process "
        f"({r['ours_circles']['memory_method']})",
        "quick": quick,
    }
    circles = common | {
        "guarantee_edges": n,
        "circles": r["ours_circles"]["circles"],
        "largest_circle": r["ours_circles"]["largest"],
    }
    hops = common | {"queries": q, "depth": 2, "mean_related": r["ours_two_hop"]["mean_related"]}
    nxv = f"networkx {nx.__version__}"
    oc, nc, oq, nq = (r[t] for t in TASKS)
    return [
        _row(
            "guarantee_circles_s",
            oc["seconds"],
            "s",
            f"{nxv}: DiGraph + strongly_connected_components",
            nc["seconds"],
            nc["seconds"] / oc["seconds"],
            circles,
        ),
        _row(
            "guarantee_circles_peak_mib",
            oc["peak_mib"],
            "MiB",
            f"{nxv}: DiGraph + strongly_connected_components",
            nc["peak_mib"],
            nc["peak_mib"] / max(oc["peak_mib"], 0.01),
            circles,
        ),
        _row(
            "two_hop_queries_per_s",
            q / oq["seconds"],
            "1/s",
            f"{nxv}: single_source_shortest_path_length(cutoff=2) per query",
            q / nq["seconds"],
            nq["seconds"] / oq["seconds"],
            hops,
        ),
        _row(
            "two_hop_peak_mib",
            oq["peak_mib"],
            "MiB",
            f"{nxv}: Graph build + the same queries",
            nq["peak_mib"],
            nq["peak_mib"] / max(oq["peak_mib"], 0.01),
            hops,
        ),
    ]


def run(options: dict) -> list[dict]:
    quick = bool(options.get("quick"))
    sizes = options.get("sizes") or ([20_000] if quick else [100_000, 1_000_000])
    queries = options.get("queries") or (2_000 if quick else 10_000)
    rows = []
    for n in sizes:
        rows += bench_size(int(n), int(queries), quick=quick)
    return rows
