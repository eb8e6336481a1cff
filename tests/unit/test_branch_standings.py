"""The one-pass standings (backend/branch/queue/standings.py) are the hall's rules exactly:
the same call order as rules.order and, for every ticket and for a new ticket of each service,
the same position, estimated wait and open counters as rules.estimate, on random queues
(categories, boosts, remote tickets, counters with overlapping and borrowed skills, live means,
busy counters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.branch import rules
from backend.branch.queue import standings

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SERVICES = list(rules.SERVICES)

tickets = st.lists(
    st.tuples(
        st.sampled_from(SERVICES),
        st.sampled_from(rules.CATEGORIES),
        st.sampled_from([0, 0, 0, rules.TRANSFER_BOOST_S, rules.RETURN_BOOST_S]),
        st.integers(0, 4 * 3600 * 1_000_000),  # microseconds after T0: ties are exact
        st.sampled_from(["waiting", "waiting", "remote"]),
    ),
    max_size=60,
)
counters = st.lists(
    st.tuples(
        st.sampled_from(["open", "open", "closed", "offline"]),
        st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True),
    ),
    max_size=5,
)
means = st.fixed_dictionaries(
    {s: st.floats(30, 2000, allow_nan=False, allow_infinity=False) for s in SERVICES}
)


def _items(spec):
    return [
        rules.QueueItem(i + 1, service, category, boost, T0 + timedelta(microseconds=us), status)
        for i, (service, category, boost, us, status) in enumerate(spec)
    ]


@settings(max_examples=300, deadline=None)
@given(tickets, counters, means, st.dictionaries(st.sampled_from(SERVICES), st.integers(0, 3)))
def test_one_pass_equals_rules_estimate_for_every_ticket(spec, pairs, mean, busy):
    items = _items(spec)
    now = T0 + timedelta(hours=5)
    in_order = standings.ranked(items)
    assert in_order == rules.order(items, now)
    probe_at = now - timedelta(hours=2)  # a new ticket taken then stands among the others
    cut = sum(1 for i in in_order if standings.order_tuple(i) < (standings.micros(probe_at),) * 2)
    got, new = standings.standings(in_order, pairs, mean, busy, new_at=cut, new_services=SERVICES)
    for it in items:
        want = rules.estimate(it, items, pairs, mean, now, busy=busy.get(it.service, 0))
        assert got[it.id] == want
    for service in SERVICES:
        probe = rules.QueueItem(0, service, "normal", 0, probe_at, "waiting")
        want = rules.estimate(probe, [*items, probe], pairs, mean, now, busy=busy.get(service, 0))
        assert new[service] == want


@settings(max_examples=200, deadline=None)
@given(tickets)
def test_order_key_sorts_as_the_call_order(spec):
    items = _items(spec)
    assert sorted(items, key=standings.order_key) == rules.order(items, T0 + timedelta(days=1))


def test_equal_scores_fall_back_to_queue_time_then_id():
    normal = rules.QueueItem(1, "cash", "normal", 0, T0, "waiting")
    vip = rules.QueueItem(2, "cash", "vip", 0, T0 + timedelta(seconds=900), "waiting")
    twin = rules.QueueItem(3, "cash", "vip", 0, T0 + timedelta(seconds=900), "waiting")
    now = T0 + timedelta(hours=1)
    assert standings.ranked([twin, vip, normal]) == rules.order([twin, vip, normal], now)
    assert [i.id for i in standings.ranked([twin, vip, normal])] == [1, 2, 3]
