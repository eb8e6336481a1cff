"""The hub half of ``finedge bench scale``: device uplinks stored through 1 and then 2
``finedge hub`` processes, as B branches x 20 devices send them.

A PostgreSQL database of its own (created, migrated, dropped at the end) with ``branches``
branches of ``devices`` devices each; the central broker is the machine's Mosquitto
(127.0.0.1:1883, or ``mqtt_url``). This process is the load generator: one MQTT connection per
branch, as that branch's edge, publishing device-shaped envelopes on the edge's topics
(``fe/v1/{branch}/counter/{device}/telemetry``) and listening for the hubs' receipts; it
answers a hub's ``ingest.rewind`` as an edge does. So only the hubs (and the database behind
them) are measured, not an edge. Like an edge, it keeps at most ``window`` uplinks unreceipted
(in all: an untuned Mosquitto queues at most 1,000 messages for a subscriber) and sends again
what has no receipt after ``resend_s``.

With one hub, then with two (the second joins, the branches are rebalanced by the leases):

1. *stored rate*: ``burst`` messages as fast as the window allows; messages per second from
   the first publish to the last receipt (the hub sends it after the row's commit);
2. *latency*: ``rate`` messages per second (the aim: 2,000/s, which is 1,000 branches x 20
   devices at one message per 10 s) for ``seconds``; each message's due time -> receipt, p50
   and p99 (a message held back by a full window, as an edge's outbox holds it, or resent,
   counts from when it was due).

Rows: the 2-hub stored rate against the 1-hub one (the scale-out ratio), the 1-hub rate against
the aim, the p99s (2 hubs against 1 hub; 1 hub against the 1 s aim). Each hub's CPU seconds,
the rows counted in the database and the receipts are in the params. ``time_limit_s`` bounds
the whole run: past it, it ends with a TimeoutError saying what it was waiting for.

Options: ``quick``, ``branches``, ``devices``, ``burst``, ``rate``, ``seconds``, ``window``,
``time_limit_s``, ``pg_admin_url`` (FINEDGE_BENCH_PG_URL, else the local server's ``test``
database), ``mqtt_url`` (FINEDGE_BENCH_MQTT_URL, else mqtt://127.0.0.1:1883).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import requests

from bench.scale_web import _row  # one row format for both halves
from bench.web_instance import SECRET_KEY, bench_database

BENCH = "scale"
AIM_RATE = 2000.0  # msg/s: 1,000 branches x 20 devices at one message per 10 s
AIM_P99_MS = 1000.0
SAMPLE = {"served": 12, "waiting": 3, "avg_wait_s": 140.5, "open": True}


class BenchTimeout(TimeoutError):
    pass


def _options(options: dict[str, Any]) -> dict[str, Any]:
    quick = bool(options.get("quick"))
    opts = {
        "branches": 4 if quick else 100,
        "devices": 20,
        "burst": 1000 if quick else 20_000,
        "rate": 100.0 if quick else AIM_RATE,
        "seconds": 3.0 if quick else 20.0,
        "window": 800,
        "resend_s": 10.0,  # an edge's receipt timeout
        "time_limit_s": 180.0 if quick else 900.0,
        "pg_admin_url": os.environ.get(
            "FINEDGE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        "mqtt_url": os.environ.get("FINEDGE_BENCH_MQTT_URL", "mqtt://127.0.0.1:1883"),
    }
    for key, value in options.items():
        if key in opts and value is not None and key != "quick":
            opts[key] = type(opts[key])(value)
    opts["quick"] = quick
    return opts


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.seconds = seconds

    def check(self, what: str) -> None:
        if time.monotonic() > self.at:
            raise BenchTimeout(f"{BENCH} (hub half): time limit {self.seconds:.0f}s hit: {what}")

    def wait(self, predicate, what: str, timeout: float | None = None) -> None:
        limit = time.monotonic() + timeout if timeout is not None else None
        while not predicate():
            self.check(what)
            if limit is not None and time.monotonic() > limit:
                raise BenchTimeout(f"{BENCH} (hub half): {what} not within {timeout:.0f}s")
            time.sleep(0.05)


# --------------------------------------------------------------------------- the database


def _fill(database_url: str, branches: list[str], devices: int) -> None:
    """The branches' devices, straight into the table (what the ingest needs: known, active)."""
    from sqlalchemy import insert

    from backend.devices.models import Device, device_row
    from backend.platform.db import make_engine

    now = datetime.now(UTC)
    rows = [
        device_row(
            f"{branch}-C{n:02d}",
            branch,
            "counter",
            now,
            model="bench",
            mqtt_username=f"{branch}-C{n:02d}".lower(),
        )
        for branch in branches
        for n in range(1, devices + 1)
    ]
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(Device), rows)
    finally:
        engine.dispose()


def _count_rows(database_url: str) -> int:
    from sqlalchemy import func, select

    from backend.devices.models import DeviceMessage
    from backend.platform.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(DeviceMessage)) or 0)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- hub processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HubProcess:
    """``finedge hub`` (``python -m backend.cli hub``) in production mode, its probes on a
    free port; SIGTERM at the end (a graceful stop: its leases released)."""

    def __init__(self, name: str, database_url: str, mqtt_url: str, host_id: str) -> None:
        self.name = name
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "DATABASE_URL")}
        env.update(
            FINEDGE_ENV="production",
            FINEDGE_SECRET_KEY=SECRET_KEY,
            DATABASE_URL=database_url,
            MQTT_URL=mqtt_url,
            FINEDGE_HUB_ID=f"bench-{name}-{uuid.uuid4().hex[:6]}",
            FINEDGE_HOST_ID=host_id,
        )
        args = [sys.executable, "-m", "backend.cli", "hub", "--health-host", "127.0.0.1"]
        args += ["--health-port", str(self.port)]
        self._lines: deque[str] = deque(maxlen=200)
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:  # closed at the end of the output, not left to the collector
            for line in self.proc.stdout:
                self._lines.append(line.rstrip())

    def output(self, n: int = 30) -> str:
        return "\n".join(list(self._lines)[-n:])

    def ready(self) -> dict[str, Any] | None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.output()}")
        try:
            answer = requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
        except requests.RequestException:
            return None
        return answer.json() if answer.status_code == 200 else None

    def cpu_s(self) -> float:
        import psutil

        try:
            times = psutil.Process(self.proc.pid).cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)


# --------------------------------------------------------------------------- the edges


class Edges:
    """One connection per branch, publishing as its edge would; receipts and rewinds."""

    def __init__(self, mqtt_url: str, branches: list[str], devices: int, window: int) -> None:
        from backend.platform.mqtt import MqttClient
        from edge.protocol import build_topic, default_edge_id

        self.branches = branches
        self.devices = devices
        self.window = window
        self.lock = threading.Condition()
        self.published: dict[str, float] = {}  # envelope id -> first publish (monotonic)
        self.pending: dict[str, tuple[str, bytes, float]] = {}  # unreceipted: topic, payload
        self.receipted: dict[str, float] = {}  # envelope id -> receipt arrival
        self.rewinds = 0
        self.resent = 0
        self.clients: dict[str, Any] = {}
        self._topics = {
            b: [
                build_topic(b, "counter", f"{b}-C{n:02d}", "telemetry")
                for n in range(1, devices + 1)
            ]
            for b in branches
        }
        self._seq = 0
        for branch in branches:
            edge_id = default_edge_id(branch)
            client = MqttClient(
                mqtt_url,
                f"bench-edge-{branch}-{uuid.uuid4().hex[:6]}",
                reconnect_max_delay=1.0,
                max_queued_publishes=100_000,
            )
            client.subscribe(
                build_topic(branch, "edge", edge_id, "receipt"),
                lambda m, b=branch: self._on_receipt(b, m),
                qos=1,
            )
            self.clients[branch] = client
            client._event_topic = build_topic(branch, "edge", edge_id, "event")  # type: ignore[attr-defined]
        for client in self.clients.values():
            client.connect(15)

    def _on_receipt(self, branch: str, message) -> None:
        from edge.protocol import decode_envelope, encode, make_envelope

        now = time.monotonic()
        env = decode_envelope(message.payload, max_skew_s=None, max_bytes=4 * 1024 * 1024)
        if env.type == "ingest.rewind":  # as an edge: answer, then resend what is pending
            client = self.clients[branch]
            answer = make_envelope("edge.rewound", {"token": env.data.get("token")}, 0)
            client.publish_nowait(client._event_topic, encode(answer), 1, False)
            with self.lock:
                self.rewinds += 1
                again = [
                    (i, t, p) for i, (t, p, _s) in self.pending.items() if t.split("/")[2] == branch
                ]
            for envelope_id, topic, payload in again:
                self._send(envelope_id, topic, payload, resend=True)
            return
        with self.lock:
            for envelope_id in env.data.get("ids", []):
                if self.pending.pop(envelope_id, None) is not None:
                    self.receipted.setdefault(envelope_id, now)
            self.lock.notify_all()

    def _send(self, envelope_id: str, topic: str, payload: bytes, *, resend: bool = False) -> None:
        from backend.platform.mqtt import MqttError

        branch = topic.split("/")[2]
        with self.lock:
            self.pending[envelope_id] = (topic, payload, time.monotonic())
            if resend:
                self.resent += 1
        with contextlib.suppress(MqttError):  # not connected: sent again after resend_s
            self.clients[branch].publish_nowait(topic, payload, 1, False)

    def message(self) -> tuple[str, str, bytes]:
        from edge.protocol import encode, make_envelope

        self._seq += 1
        branch = self.branches[self._seq % len(self.branches)]
        topics = self._topics[branch]
        topic = topics[(self._seq // len(self.branches)) % len(topics)]
        env = make_envelope("counter.stats", SAMPLE, self._seq)
        return env.id, topic, encode(env)

    def messages(self, n: int) -> list[tuple[str, str, bytes]]:
        """``n`` messages made ahead (their making is not what is measured)."""
        return [self.message() for _ in range(n)]

    def publish(self, at: float | None = None, made: tuple[str, str, bytes] | None = None) -> str:
        """One message (``made`` ahead, or now); its latency counts from ``at`` (when it was
        due) if given."""
        envelope_id, topic, payload = made or self.message()
        with self.lock:
            self.published[envelope_id] = at if at is not None else time.monotonic()
        self._send(envelope_id, topic, payload)
        return envelope_id

    def resend_due(self, resend_s: float) -> None:
        now = time.monotonic()
        with self.lock:
            due = [(i, t, p) for i, (t, p, at) in self.pending.items() if now - at > resend_s]
        for envelope_id, topic, payload in due:
            self._send(envelope_id, topic, payload, resend=True)

    def wait_room(self, deadline: Deadline, resend_s: float, what: str) -> int:
        """Until fewer than ``window`` are unreceipted (an edge's flow control); the room."""
        while True:
            with self.lock:
                room = self.window - len(self.pending)
                if room <= 0:
                    self.lock.wait(0.05)
                    room = self.window - len(self.pending)
            if room > 0:
                return room
            deadline.check(what)
            self.resend_due(resend_s)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _warm(edges: Edges, deadline: Deadline, resend_s: float) -> None:
    """One message per branch until every branch's comes back receipted (its hub took it up,
    subscribed and had its rewind answered)."""
    ids = []
    for branch in edges.branches:
        from edge.protocol import encode, make_envelope

        env = make_envelope("counter.stats", SAMPLE, 0)
        topic = edges._topics[branch][0]
        with edges.lock:
            edges.published[env.id] = time.monotonic()
        edges._send(env.id, topic, encode(env))
        ids.append(env.id)

    _wait_receipted(edges, ids, deadline, 1.0, "every branch taken up by a hub (warm-up receipts)")


def _wait_receipted(
    edges: Edges, ids: list[str], deadline: Deadline, resend_s: float, what: str
) -> None:
    """Until every one of ``ids`` came back receipted, sending again what waits too long."""

    def done() -> bool:
        edges.resend_due(resend_s)
        with edges.lock:
            return all(i in edges.receipted for i in ids)

    deadline.wait(done, what)


def _burst(edges: Edges, n: int, deadline: Deadline, resend_s: float) -> dict[str, Any]:
    ids: list[str] = []
    made = edges.messages(n)
    start = time.monotonic()
    while len(ids) < n:
        room = edges.wait_room(deadline, resend_s, f"burst: {len(ids)} of {n} published")
        for _ in range(min(room, n - len(ids))):
            ids.append(edges.publish(made=made[len(ids)]))

    _wait_receipted(edges, ids, deadline, resend_s, f"burst: receipts of {n} messages")
    with edges.lock:
        last = max(edges.receipted[i] for i in ids)
    elapsed = last - start
    return {"messages": n, "elapsed_s": round(elapsed, 3), "rate": n / elapsed}


def _paced(
    edges: Edges, rate: float, seconds: float, deadline: Deadline, resend_s: float
) -> dict[str, Any]:
    total = max(1, int(rate * seconds))
    ids: list[str] = []
    made = edges.messages(total)
    start = time.monotonic()
    for i in range(total):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # a full window holds the message back, as an edge's outbox does: that wait counts
        edges.wait_room(deadline, resend_s, f"paced: {i} of {total} published")
        ids.append(edges.publish(at=due, made=made[i]))

    _wait_receipted(edges, ids, deadline, resend_s, f"paced: receipts of {total} messages")
    with edges.lock:
        latencies = sorted(1000 * (edges.receipted[i] - edges.published[i]) for i in ids)
    return {
        "messages": total,
        "publish_s": round(time.monotonic() - start, 2),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
        "max_ms": round(latencies[-1], 2),
    }


def _owned(hubs: list[HubProcess]) -> list[int]:
    return [int((hub.ready() or {}).get("branches_owned", -1)) for hub in hubs]


def _phase(
    hubs: list[HubProcess], edges: Edges, opts: dict[str, Any], deadline: Deadline
) -> dict[str, Any]:
    branches = len(edges.branches)
    deadline.wait(
        lambda: all(o > 0 for o in _owned(hubs)) and sum(_owned(hubs)) == branches,
        f"{len(hubs)} hub(s) ready, sharing the {branches} branches",
    )
    _warm(edges, deadline, opts["resend_s"])
    import psutil

    cpu0 = [hub.cpu_s() for hub in hubs]
    me, machine = psutil.Process(), psutil.cpu_times()
    gen0 = sum(me.cpu_times()[:2])
    burst = _burst(edges, opts["burst"], deadline, opts["resend_s"])
    paced = _paced(edges, opts["rate"], opts["seconds"], deadline, opts["resend_s"])
    after = psutil.cpu_times()
    busy = sum(after) - after.idle - (sum(machine) - machine.idle)
    total = sum(after) - sum(machine)
    return {
        "burst": burst,
        "paced": paced,
        "owned": _owned(hubs),
        "cpu_s": [round(hub.cpu_s() - c, 2) for hub, c in zip(hubs, cpu0, strict=True)],
        "generator_cpu_s": round(sum(me.cpu_times()[:2]) - gen0, 2),
        "machine_busy": round(busy / total, 3) if total else 0.0,
        "hub_cpu_ms_per_msg": round(
            1000
            * sum(hub.cpu_s() - c for hub, c in zip(hubs, cpu0, strict=True))
            / (burst["messages"] + paced["messages"]),
            3,
        ),
    }


# --------------------------------------------------------------------------- rows


def _phase_params(phase: dict) -> dict[str, Any]:
    keys = ("owned", "cpu_s", "generator_cpu_s", "machine_busy", "hub_cpu_ms_per_msg")
    return {**{k: phase[k] for k in keys}, "burst_s": phase["burst"]["elapsed_s"], **phase["paced"]}


def _rows(one: dict, two: dict, opts: dict, extra: dict) -> list[dict[str, Any]]:
    params = {
        "hubs": "finedge hub processes (production), PostgreSQL, Mosquitto",
        "branches": opts["branches"],
        "devices_per_branch": opts["devices"],
        "burst": opts["burst"],
        "rate": opts["rate"],
        "seconds": opts["seconds"],
        "window": opts["window"],
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "one_hub": _phase_params(one),
        "two_hubs": _phase_params(two),
        **extra,
    }
    r1, r2 = one["burst"]["rate"], two["burst"]["rate"]
    p1, p2 = one["paced"]["p99_ms"], two["paced"]["p99_ms"]
    return [
        _row("hub_stored_per_s_2_hubs", r2, "1/s", "the same burst through 1 hub, same run",
             r1, r2 / r1, params),
        _row("hub_stored_per_s_1_hub", r1, "1/s",
             "aim: 2,000 msg/s (1,000 branches x 20 devices at 1 per 10 s)", AIM_RATE,
             r1 / AIM_RATE, params),
        _row("hub_p99_ms_2_hubs", p2, "ms", f"the same pace ({opts['rate']:.0f}/s) through 1 hub",
             p1, p1 / p2 if p2 else 0.0, params),
        _row("hub_p99_ms_1_hub", p1, "ms", f"aim: p99 under 1 s at {opts['rate']:.0f}/s",
             AIM_P99_MS, AIM_P99_MS / p1 if p1 else 0.0, params),
    ]  # fmt: skip


def run(options: dict[str, Any]) -> list[dict[str, Any]]:
    import logging

    from backend.platform.mqtt import PAHO_LOGGER

    logging.getLogger(PAHO_LOGGER).setLevel(logging.CRITICAL)  # the closing clients' noise
    opts = _options(options)
    deadline = Deadline(opts["time_limit_s"])
    prefix = f"S{uuid.uuid4().hex[:5].upper()}"
    branches = [f"{prefix}{n:04d}" for n in range(opts["branches"])]
    host_id = f"bench-{uuid.uuid4().hex[:8]}"  # not the STATE of a real installation
    hubs: list[HubProcess] = []
    edges: Edges | None = None
    with bench_database(opts["pg_admin_url"], seeded=False) as database_url:
        try:
            _fill(database_url, branches, opts["devices"])
            hubs.append(HubProcess("hub1", database_url, opts["mqtt_url"], host_id))
            deadline.wait(lambda: hubs[0].ready() is not None, "hub 1 ready")
            edges = Edges(opts["mqtt_url"], branches, opts["devices"], opts["window"])
            one = _phase(hubs, edges, opts, deadline)
            hubs.append(HubProcess("hub2", database_url, opts["mqtt_url"], host_id))
            two = _phase(hubs, edges, opts, deadline)
            stored = _count_rows(database_url)
            with edges.lock:
                extra = {
                    "published": len(edges.published),
                    "rows": stored,
                    "resent": edges.resent,
                    "rewinds_answered": edges.rewinds,
                }
        except Exception:
            for hub in hubs:
                print(f"{BENCH}: {hub.name}'s last lines:\n{hub.output()}", file=sys.stderr)
            raise
        finally:
            if edges is not None:
                edges.close()
            for hub in hubs:
                hub.stop()
    if extra["rows"] != extra["published"]:
        raise RuntimeError(f"{BENCH}: {extra['published']} published, {extra['rows']} rows")
    return _rows(one, two, opts, extra)


if __name__ == "__main__":  # by hand: python -m bench.scale_hub [--quick]
    for row in run({"quick": "--quick" in sys.argv}):
        print(json.dumps(row), flush=True)
