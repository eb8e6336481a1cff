"""The pages benchmark's replay plan: the page's API calls grouped in waves as they overlapped
in the browser (bench/pages.py); and its p90. No timing is asserted (the benchmark prints its
figures; ``finedge bench pages --quick`` runs in tests/integration/test_benchmarks.py)."""

from __future__ import annotations

from bench.pages import Call, p90, waves


def call(name: str, start: float, end: float) -> Call:
    return Call("GET", f"http://127.0.0.1/api/v1/{name}", start, end)


def test_calls_that_overlapped_are_replayed_together_and_later_ones_after():
    summary, alerts = call("summary", 10, 40), call("alerts", 12, 30)
    cars = call("cars", 35, 80)  # after the alerts answered: it may have waited for them
    detail = call("detail", 81, 90)
    plan = waves([detail, cars, alerts, summary])
    assert [[c.name for c in wave] for wave in plan] == [
        ["GET /api/v1/summary", "GET /api/v1/alerts"],
        ["GET /api/v1/cars"],
        ["GET /api/v1/detail"],
    ]


def test_p90_is_the_nearest_rank():
    assert p90([5.0]) == 5.0
    assert p90([float(n) for n in range(1, 11)]) == 9.0
    assert p90([3.0, 1.0, 2.0]) == 3.0
