"""The web half of ``finedge bench scale``: Socket.IO clients held by one production web
instance, and the authenticated GET rate and p99 with and without them.

Two identical ``finedge web`` instances (the production server: backend/roles/web_server.py,
gevent, one process each) on one PostgreSQL database of their own (created, migrated, seeded
with the demo users, dropped at the end), with the machine's Redis as the Socket.IO message
queue. The *held* instance gets ``clients`` Socket.IO clients of ``/live`` (connected by
bench/socketio_clients.py in their own process, at most ``connect_concurrency`` handshakes at a
time); the *bare* one none: it is the baseline. The GETs go to both in alternating slices
(bare, held, held, bare, ...), so that the load other programs put on a shared machine falls
on both alike; measured the one after the other, that noise easily outweighed the clients.

1. authenticated GETs (``path``, as ``user``) by ``concurrency`` keep-alive clients back to
   back, ``seconds`` on each instance: the rate;
2. the same GETs paced at half the bare instance's rate, ``seconds`` on each: p50 and p99 from
   each request's scheduled time (so that a stall counts for every request it delays);
3. one live event through Redis (from this process, as the hub's or the scheduler's events go)
   to one client of the bare instance, then to all the held instance's clients: the fan-out.

Rows: clients held (against the aim), the GET rate and the GET p99 with them (against the
bare instance; the aim is a p99 at most 2x the baseline's, ratio >= 0.5), the fan-out time.
Each instance's CPU seconds over the slices and the held one's memory are in the params.
``time_limit_s`` bounds the whole run: past it, it ends with a TimeoutError saying what it
was waiting for.

Options: ``quick``, ``clients``, ``seconds``, ``concurrency``, ``connect_concurrency``,
``path``, ``user``, ``time_limit_s``, ``pg_admin_url`` (FINEDGE_BENCH_PG_URL, else the local
server's ``test`` database), ``redis_url`` (REDIS_URL, else 127.0.0.1:6379).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import threading
import time
import uuid
from typing import Any

import requests

from bench.socketio_clients import Holder
from bench.web_instance import WebInstance, bench_database, check_redis

BENCH = "scale"
USERS = ("admin", "supervisor1", "teller1", "teller2", "rm1", "dealer1", "dealer2", "oem1")
LIVE_EVENT = "queue.update"


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never through a proxy: the server is on this machine
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _closed_loop(url: str, token: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` clients, each sending its next GET when the last one answered."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        session = _session(token)
        mine: list[float] = []
        while time.monotonic() < stop_at:
            start = time.monotonic()
            try:
                ok = session.get(url, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            mine.append(time.monotonic() - start) if ok else None
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"count": len(latencies), "elapsed": elapsed, "errors": errors[0]}


def _paced(url: str, token: str, pace: float, seconds: float, workers: int) -> dict[str, Any]:
    """GETs scheduled at ``pace`` per second; each latency counts from its scheduled time."""
    total = max(1, int(pace * seconds))
    start = time.monotonic() + 0.05
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        session = _session(token)
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            scheduled = start + index / pace
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                ok = session.get(url, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    latencies.append(time.monotonic() - scheduled)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors[0]}


def _fanout(web: WebInstance, holder: Holder, rooms: list[str], expected: int, deadline: float):
    """One live event to ``rooms`` through Redis; ms until the last of ``expected`` clients
    had it (or, when some never did, until it stopped waiting: at least that), and the
    clients' counts then."""
    mark = uuid.uuid4().hex[:12]
    sent = time.monotonic()
    web.emitter().send(LIVE_EVENT, {"bench_mark": mark}, rooms=rooms)
    answer = holder.report(mark, expected, min(deadline, time.monotonic() + 60))
    if answer["received"] < expected or answer["last_at"] is None:
        return (time.monotonic() - sent) * 1000, answer
    return (answer["last_at"] - sent) * 1000, answer


@contextlib.contextmanager
def _held(web: WebInstance, tokens: list[str], clients: int, connect_concurrency: int, deadline):
    holder = Holder(web.base, tokens, clients, connect_concurrency).start()
    try:
        yield holder, holder.wait_connected(deadline)
    finally:
        holder.stop()


def _options(options: dict[str, Any]) -> dict[str, Any]:
    quick = bool(options.get("quick"))
    return {
        "clients": int(options.get("clients", 50 if quick else 5000)),
        "seconds": float(options.get("seconds", 1.0 if quick else 10.0)),
        "concurrency": int(options.get("concurrency", 4)),
        "connect_concurrency": int(options.get("connect_concurrency", 100)),
        "path": options.get("path", "/api/v1/devices?branch_id=BR001"),
        "user": options.get("user", "admin"),
        "time_limit_s": float(options.get("time_limit_s", 180 if quick else 900)),
        "pg_admin_url": options.get("pg_admin_url")
        or os.environ.get(
            "FINEDGE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        "redis_url": options.get("redis_url")
        or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }


def _slices(seconds: float) -> tuple[int, float]:
    """How many slices per instance, and how long each."""
    length = min(1.0, seconds / 2)
    return max(2, round(seconds / length)), length


def _interleaved(
    bare: WebInstance, held: WebInstance, seconds: float, measure
) -> dict[str, list[dict]]:
    """``measure(web, length)`` in slices of ``seconds`` in all on each instance in turn: bare,
    held, held, bare, bare, held ..."""
    count, length = _slices(seconds)
    found: dict[str, list[dict]] = {"bare": [], "held": []}
    for index in range(count):
        order = (
            (("bare", bare), ("held", held)) if index % 2 == 0 else (("held", held), ("bare", bare))
        )
        for name, web in order:
            found[name].append(measure(web, length))
    return found


def _merged_rate(slices: list[dict]) -> dict[str, Any]:
    count = sum(s["count"] for s in slices)
    elapsed = sum(s["elapsed"] for s in slices)
    errors = sum(s["errors"] for s in slices)
    if not count:
        raise RuntimeError(f"no GET answered 200 ({errors} errors)")
    return {"rate": count / elapsed, "count": count, "errors": errors}


def _merged_latency(slices: list[dict]) -> dict[str, Any]:
    latencies = sorted(x for s in slices for x in s["latencies"])
    errors = sum(s["errors"] for s in slices)
    if not latencies:
        raise RuntimeError(f"no GET answered 200 ({errors} errors)")
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
        "count": len(latencies),
        "errors": errors,
    }


def _measure(bare: WebInstance, held: WebInstance, opts: dict[str, Any], deadline: float):
    path, user, concurrency = opts["path"], opts["user"], opts["concurrency"]
    tokens = [held.token(name) for name in USERS]
    rooms = [f"user:{held.user_id(name)}" for name in USERS]
    workers = max(8, concurrency * 2)
    found: dict[str, Any] = {"rss_mb_before": held.rss_mb()}
    for web in (bare, held):
        web.emitter()  # connected to Redis before anything is timed
        _closed_loop(web.base + path, web.token(user), concurrency, 1.0)  # warm-up
    with _held(bare, tokens[:1], 1, 1, deadline) as (one, _):
        found["fanout_one_ms"], _ = _fanout(bare, one, rooms[:1], 1, deadline)
    before_connect = held.cpu_s()
    with _held(held, tokens, opts["clients"], opts["connect_concurrency"], deadline) as (
        many,
        state,
    ):
        found["connect"] = state
        found["connect_cpu_s"] = held.cpu_s() - before_connect
        found["rss_mb_held"] = held.rss_mb()
        cpu = {"bare": bare.cpu_s(), "held": held.cpu_s()}
        closed = _interleaved(
            bare,
            held,
            opts["seconds"],
            lambda web, s: _closed_loop(web.base + path, web.token(user), concurrency, s),
        )
        found["closed"] = {name: _merged_rate(slices) for name, slices in closed.items()}
        pace = found["pace"] = max(1.0, found["closed"]["bare"]["rate"] / 2)
        paced = _interleaved(
            bare,
            held,
            opts["seconds"],
            lambda web, s: _paced(web.base + path, web.token(user), pace, s, workers),
        )
        found["paced"] = {name: _merged_latency(slices) for name, slices in paced.items()}
        found["cpu_s"] = {"bare": bare.cpu_s() - cpu["bare"], "held": held.cpu_s() - cpu["held"]}
        found["fanout_all_ms"], found["end"] = _fanout(
            held, many, rooms, state["connected"], deadline
        )
        if found["end"]["received"] < state["connected"]:  # say what the instance said
            print(f"{BENCH}: the held instance's last lines:\n{held.output(40)}", file=sys.stderr)
    return found


def _row(metric: str, value, unit: str, baseline: str, baseline_value, ratio, params):
    return {
        "bench": BENCH,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 3),
        "ratio": round(ratio, 3),
        "params": params,
    }


def _rows(found: dict[str, Any], opts: dict[str, Any]) -> list[dict[str, Any]]:
    clients = opts["clients"]
    connect = found["connect"]
    closed, paced = found["closed"], found["paced"]
    params = {
        "server": "finedge web: gevent, one process",
        "clients": clients,
        "path": opts["path"],
        "seconds": opts["seconds"],
        "concurrency": opts["concurrency"],
        "pace_per_s": round(found["pace"], 1),
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "connect_s": connect["elapsed_s"],
        "refused": connect["refused"],
        "failed": connect["failed"],
        "dropped": connect["dropped"],
        "held_rss_mb": {"before": found["rss_mb_before"], "held": found["rss_mb_held"]},
        "cpu_s": {name: round(value, 2) for name, value in found["cpu_s"].items()},
        "cpu_ms_per_get": {
            name: round(
                1000 * found["cpu_s"][name] / max(1, closed[name]["count"] + paced[name]["count"]),
                2,
            )
            for name in ("bare", "held")
        },
        "connect_cpu_ms_per_client": round(
            1000 * found["connect_cpu_s"] / max(1, connect["connected"]), 2
        ),
        "get_errors": sum(closed[n]["errors"] + paced[n]["errors"] for n in ("bare", "held")),
    }
    base_rate, held_rate = closed["bare"]["rate"], closed["held"]["rate"]
    base_p99, held_p99 = paced["bare"]["p99_ms"], paced["held"]["p99_ms"]
    bare = "the same GETs to an identical instance with no Socket.IO client, interleaved"
    fan_one, fan_all = found["fanout_one_ms"], found["fanout_all_ms"]
    return [
        _row(
            "socketio_clients_held", connect["connected"], "clients",
            f"aim: {clients} clients connected to one instance", clients,
            connect["connected"] / clients, params,
        ),
        _row(
            "get_rate_with_clients", held_rate, "1/s", bare, base_rate,
            held_rate / base_rate, params,
        ),
        _row(
            "get_p99_with_clients", held_p99, "ms", f"{bare}, paced alike", base_p99,
            base_p99 / held_p99,
            {**params, "p50_ms": {
                "baseline": round(paced["bare"]["p50_ms"], 2),
                "held": round(paced["held"]["p50_ms"], 2),
            }},
        ),
        _row(
            "live_fanout_ms", fan_all, "ms",
            "one live event to one client (Redis -> an instance -> the client), same run",
            fan_one, fan_one / fan_all,
            {
                **params,
                "received": found["end"]["received"],
                "dropped_at_end": found["end"]["dropped"],
                "client_errors": found["end"]["errors"],
            },
        ),
    ]  # fmt: skip


def run(options: dict[str, Any]) -> list[dict[str, Any]]:
    opts = _options(options)
    deadline = time.monotonic() + opts["time_limit_s"]
    check_redis(opts["redis_url"])
    with (
        bench_database(opts["pg_admin_url"]) as database_url,
        WebInstance(database_url, opts["redis_url"], deadline) as bare,
        WebInstance(database_url, opts["redis_url"], deadline) as held,
    ):
        found = _measure(bare, held, opts, deadline)
    return _rows(found, opts)


if __name__ == "__main__":  # by hand: python -m bench.scale_web [--quick]
    import json

    for row in run({"quick": "--quick" in sys.argv}):
        print(json.dumps(row), flush=True)
