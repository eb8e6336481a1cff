"""Graph algorithms against hand-built graphs (cycles, chains, mutual guarantees, cross
holdings) and against networkx on random graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.risk.catalog import EDGE_KIND_CODE
from backend.risk.graph.algorithms import (
    GraphData,
    adjacency,
    controller_of,
    graph_metrics,
    k_hop,
    k_hop_batch,
    mutual_pairs,
    propagate,
    strong_components,
    ultimate_controllers,
)


def arr(*values):
    return np.asarray(values, dtype=np.int64)


def test_a_cycle_of_three_is_one_circle_and_a_chain_is_none():
    # 0 -> 1 -> 2 -> 0 is a circle; 3 -> 4 -> 5 is a chain; 2 -> 3 joins them one way only
    labels, circles = strong_components(6, arr(0, 1, 2, 3, 4, 2), arr(1, 2, 0, 4, 5, 3))
    assert [c.tolist() for c in circles] == [[0, 1, 2]]
    assert len({labels[3], labels[4], labels[5]}) == 3


def test_two_cycles_sharing_a_node_are_one_circle_largest_first():
    src = arr(0, 1, 1, 2, 3, 5, 6)
    dst = arr(1, 0, 2, 3, 1, 6, 5)
    _labels, circles = strong_components(7, src, dst)
    assert [c.tolist() for c in circles] == [[0, 1, 2, 3], [5, 6]]


def test_mutual_guarantees():
    pairs = mutual_pairs(arr(0, 1, 2, 3, 2, 4, 4), arr(1, 0, 3, 2, 0, 4, 5))
    assert pairs.tolist() == [[0, 1], [2, 3]]
    assert mutual_pairs(arr(), arr()).shape == (0, 2)


def test_k_hop_on_a_chain_and_a_star():
    a = adjacency(6, arr(0, 1, 2, 3, 4), arr(1, 2, 3, 4, 5), symmetric=True)
    assert k_hop(a.indptr, a.indices, 0, 2).tolist() == [1, 2]
    assert k_hop(a.indptr, a.indices, 3, 2).tolist() == [1, 2, 4, 5]
    assert k_hop(a.indptr, a.indices, 0, 10).tolist() == [1, 2, 3, 4, 5]
    star = adjacency(5, arr(0, 0, 0, 0), arr(1, 2, 3, 4), symmetric=True)
    offsets, nodes = k_hop_batch(star.indptr, star.indices, [1, 0, 4], 1)
    assert [nodes[offsets[i] : offsets[i + 1]].tolist() for i in range(3)] == [
        [0],
        [1, 2, 3, 4],
        [0],
    ]
    lonely = adjacency(3, arr(0), arr(1), symmetric=True)
    assert k_hop(lonely.indptr, lonely.indices, 2, 2).tolist() == []


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=2, max_value=40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80),
            st.integers(1, 3),
        )
    )
)
def test_k_hop_and_circles_agree_with_networkx(case):
    n, edges, k = case
    src = np.asarray([a for a, _b in edges], dtype=np.int64)
    dst = np.asarray([b for _a, b in edges], dtype=np.int64)
    undirected = nx.Graph()
    undirected.add_nodes_from(range(n))
    undirected.add_edges_from((a, b) for a, b in edges if a != b)
    a = adjacency(n, src, dst, symmetric=True)
    offsets, nodes = k_hop_batch(a.indptr, a.indices, np.arange(n), k)
    for s in range(n):
        expected = sorted(set(nx.single_source_shortest_path_length(undirected, s, cutoff=k)) - {s})
        assert nodes[offsets[s] : offsets[s + 1]].tolist() == expected
    directed = nx.DiGraph()
    directed.add_nodes_from(range(n))
    directed.add_edges_from(edges)
    expected_circles = sorted(
        sorted(c) for c in nx.strongly_connected_components(directed) if len(c) > 1
    )
    _labels, circles = strong_components(n, src, dst)
    assert sorted(c.tolist() for c in circles) == expected_circles


def test_ultimate_controller_multiplies_shares_along_chains_and_adds_paths():
    holders = {
        "T": [("A", 0.6), ("B", 0.4)],
        "A": [("P", 0.5), ("B", 0.5)],
        "B": [("P", 0.8), ("Q", 0.2)],
    }
    result = {h.holder: h for h in ultimate_controllers(holders, "T")}
    # P: T<-A<-P 0.3, T<-A<-B<-P 0.24, T<-B<-P 0.32
    assert result["P"].share == pytest.approx(0.86)
    assert result["P"].paths == 3
    assert result["Q"].share == pytest.approx(0.6 * 0.5 * 0.2 + 0.4 * 0.2)
    assert controller_of(list(result.values())).holder == "P"
    assert result["P"].example_path == ("P", "B", "T")


def test_cross_holding_cycles_are_safe():
    # A and B hold each other; P holds A from outside the loop
    holders = {"B": [("A", 0.6)], "A": [("B", 0.3), ("P", 0.7)]}
    result = {h.holder: h.share for h in ultimate_controllers(holders, "B")}
    assert result == {"P": pytest.approx(0.42)}
    pure_loop = {"B": [("A", 0.5)], "A": [("B", 0.5)]}
    assert [(h.holder, h.share) for h in ultimate_controllers(pure_loop, "B")] == [("A", 0.5)]


def test_depth_cap_marks_truncation_and_small_chains_are_cut():
    chain = {f"C{i}": [(f"C{i + 1}", 0.9)] for i in range(20)}
    capped = ultimate_controllers(chain, "C0", max_depth=5)
    assert len(capped) == 1 and capped[0].holder == "C5" and capped[0].truncated
    assert capped[0].share == pytest.approx(0.9**5)
    tiny = {"T": [("A", 0.01)], "A": [("P", 0.001)]}
    assert ultimate_controllers(tiny, "T", min_share=1e-4) == []


def test_no_controller_below_threshold_or_on_a_tie():
    even = ultimate_controllers({"T": [("P", 0.5), ("Q", 0.5)]}, "T")
    assert controller_of(even) is None
    spread = ultimate_controllers({"T": [("P", 0.2), ("Q", 0.1)]}, "T")
    assert controller_of(spread) is None
    assert controller_of([]) is None


def test_propagation_takes_the_strongest_path_and_decays():
    # seed 0 (1.0); 0 -> 1 (0.5) -> 3 (0.5) and 0 -> 2 (0.9) -> 3 (0.9); cycle 3 -> 0
    src, dst = arr(0, 1, 0, 2, 3), arr(1, 3, 2, 3, 0)
    w = np.asarray([0.5, 0.5, 0.9, 0.9, 0.9])
    seeds = np.asarray([1.0, 0, 0, 0, 0])
    p = propagate(5, src, dst, w, seeds, max_hops=3)
    assert p.score.tolist() == pytest.approx([1.0, 0.5, 0.9, 0.81, 0.0])
    assert p.origin.tolist() == [0, 0, 0, 0, -1]
    assert p.hops.tolist() == [0, 1, 1, 2, 0]
    short = propagate(5, src, dst, w, seeds, max_hops=1)
    assert short.score[3] == 0.0


def test_graph_metrics_of_a_small_world():
    e = EDGE_KIND_CODE
    # enterprises 0..4, person 5; guarantees 0<->1 (mutual), 1->2->0 (circle of 3),
    # person 5 holds 60% of 3, 3 is a group member of 4
    g = GraphData(
        5,
        1,
        arr(0, 1, 1, 2, 5, 3),
        arr(1, 0, 2, 0, 3, 4),
        np.asarray([e["guarantee"]] * 4 + [e["equity"], e["group"]], dtype=np.int8),
        np.asarray([np.nan] * 4 + [0.6, np.nan]),
        np.asarray([100.0, 200.0, 300.0, 400.0, 0.0, 0.0]),
    )
    m = graph_metrics(g)
    assert m["guarantees_given"].tolist() == [1, 2, 1, 0, 0]
    assert m["guarantee_amount_given"].tolist() == [100, 500, 400, 0, 0]
    assert m["in_guarantee_circle"].tolist() == [1, 1, 1, 0, 0]
    assert m["guarantee_circle_size"].tolist() == [3, 3, 3, 0, 0]
    assert m["mutual_guarantees"].tolist() == [1, 1, 0, 0, 0]
    assert m["shareholders"].tolist() == [0, 0, 0, 1, 0]
    assert m["group_member"].tolist() == [0, 0, 0, 1, 1]
    assert m["related_2hop"].tolist() == [2, 2, 2, 2, 2]
