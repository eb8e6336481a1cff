"""``finedge bench mqtt-ingest``: device uplinks end to end against the raw broker.

End to end is the production path, in the production's processes: a load generator process of
simulated devices (each its own MQTT login) -> ``finedge edge`` in its own process (its branch
broker, validation, dedup, SQLite outbox, pipelined forwarding) -> the central broker -> the
backend's ingest in this process (batched, exactly-once) -> a database row (SQLite, migrated to
head). The baseline, measured in the same run on the same central broker, is the raw broker:
one paho publisher to one subscriber, QoS 1, pipelined.

Two phases each: a *burst* (everything published at once; messages per second from the first
publish to the last database commit, or to the last delivery for the baseline), then a *paced*
run for latency (publish call -> database commit, p50 and p99) at ``pace`` messages per second
or half the measured end-to-end rate if that is lower, so the latency is not queueing. During the
burst the backlog of each stage is sampled (device buffers, the edge's outbox, the ingest
queue): the stage whose backlog grows is the one that gives first.

Brokers: ``amqtt`` (the central broker embedded in this process, the branch broker in the edge's)
and ``mosquitto`` (the shared one on 127.0.0.1:1883 as the central broker, and a private
``mosquitto`` process as the branch broker that the edge joins), skipped with a note on stderr
where absent. The embedded central broker is the one ``finedge serve`` runs
(``backend.roles.broker``): logins and ACL of the central Mosquitto, the backend's and the
baseline's login ``backend``, the edge logins following the branches in the database
(``edge_logins``, as its refresher does), every password derived from the secret key the edge
shares. Options: ``quick`` (small sizes), ``brokers``, ``devices``, ``messages`` (per
device, burst), ``raw`` (baseline messages), ``pace``, ``seconds``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from backend.devices.secretbox import SecretBox
from backend.devices.seed import ensure_devices
from backend.identity import service as identity
from backend.platform import migrate
from backend.platform.db import make_engine, session_scope
from backend.platform.live import RecordingEmitter
from backend.platform.mqtt import PAHO_LOGGER, parse_mqtt_url
from backend.platform.mqtt.central import BACKEND_USER, central_broker, login_password
from backend.roles.broker import edge_logins
from backend.roles.hub import DeviceHub, HubSettings
from bench.wiring import session_factory as bench_sessions
from devices.fleet import make_device
from devices.identity import load_identities
from edge.protocol import TOPIC_ROOT, TOPIC_VERSION, encode, make_envelope

FINEDGE = str(Path(sys.executable).with_name("finedge"))
BENCH = "mqtt-ingest"
SHARED = ("127.0.0.1", 1883)
BASELINE = "raw broker: one paho publisher -> one subscriber, QoS 1, 500 in flight, same broker"
SECRET_KEY = "bench-" + "k" * 40
WINDOW = 500  # messages in flight end to end, as the edge's receipt window
SAMPLE = {"mode": "in_service", "sessions_today": 42, "transactions": {"transfer": 7}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _mosquitto_reason() -> str | None:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).is_file():
        return "mosquitto binary not found"
    if not _port_open(*SHARED):
        return f"no Mosquitto on {SHARED[0]}:{SHARED[1]}"
    return None


@contextmanager
def _private_mosquitto(workdir: Path) -> Iterator[str]:
    """An anonymous Mosquitto on a free port: the branch broker of the mosquitto variant."""
    port = _free_port()
    conf = workdir / "branch-mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "set_tcp_nodelay true\nmax_queued_messages 200000\nmax_inflight_messages 200\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 5
        while not _port_open("127.0.0.1", port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("private mosquitto did not start")
            time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# --------------------------------------------------------------------------- raw baseline


def _raw(url: str, n: int, pace: float, seconds: float) -> dict[str, float]:
    """One paho publisher -> one subscriber: burst rate, then paced latency."""
    host, port, username, password = parse_mqtt_url(url)
    topic = f"{TOPIC_ROOT}/{TOPIC_VERSION}/bench-{uuid.uuid4().hex}/raw"  # the backend's ACL
    body = encode(make_envelope("counter.stats", SAMPLE, 1))
    received: dict[int, float] = {}
    done = threading.Event()
    expected = {"count": n}

    def on_message(_client, _userdata, message) -> None:
        received[int(message.payload[:9])] = time.perf_counter()
        if len(received) >= expected["count"]:
            done.set()

    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:6]}")
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    pub.max_inflight_messages_set(200)
    sub.on_message = on_message
    for client in (sub, pub):
        if username:
            client.username_pw_set(username, password)
        client.connect(host, port, keepalive=60)
        client.loop_start()
    try:
        info = sub.subscribe(topic, qos=1)
        time.sleep(0.3)  # SUBACK
        assert info[0] == 0
        start = time.perf_counter()
        for i in range(n):
            # At most WINDOW undelivered: an untuned broker drops what overflows its queue
            # towards a subscriber (Mosquitto: max_queued_messages 1000), the same end-to-end
            # flow control the edge applies with the centre's receipts.
            stalled = time.monotonic() + 30
            while i - len(received) >= WINDOW:
                if time.monotonic() > stalled:
                    raise RuntimeError(f"raw baseline: stalled at {len(received)} of {n}")
                time.sleep(0.0005)
            pub.publish(topic, b"%09d" % i + body, qos=1)
        if not done.wait(120):
            raise RuntimeError(f"raw baseline: {len(received)} of {n} delivered")
        burst = n / (max(received.values()) - start)

        received.clear()
        done.clear()
        count = max(1, int(pace * seconds))
        expected["count"] = count
        sent: dict[int, float] = {}
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / pace - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent[i] = time.perf_counter()
            pub.publish(topic, b"%09d" % (n + i) + body, qos=1)
        done.wait(60)
        latencies = [(received[n + i] - t) * 1000 for i, t in sent.items() if n + i in received]
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
    return {
        "rate": burst,
        "p50": statistics.median(latencies),
        "p99": _percentile(latencies, 0.99),
    }


# --------------------------------------------------------------------------- end to end


class _Commits:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, ids: list[str]) -> None:
        now = time.time()
        with self.lock:
            for envelope_id in ids:
                self.at[envelope_id] = now

    def missing(self, ids: dict[str, float]) -> int:
        with self.lock:
            return len(ids.keys() - self.at.keys())


class _Child:
    """A subprocess driven line by line over stdin/stdout."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path | None = None) -> None:
        self.log = log
        out = log.open("w") if log else subprocess.PIPE
        try:
            self.proc = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.PIPE if log is None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                text=True,
            )
        finally:
            if log:
                out.close()  # type: ignore[union-attr]

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout: float = 120) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"load generator exited ({self.proc.poll()})")
            if line.startswith(prefix):
                return line.strip()
        raise RuntimeError(f"no {prefix!r} from the load generator")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def _outbox_size(path: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return 0


def _end_to_end(
    kind: str,
    central_url: str,
    backend_url: str,
    branch_url: str | None,
    workdir: Path,
    options: dict[str, Any],
    central=None,
) -> dict[str, Any]:
    """``central_url``: the central broker without a login (the edge derives its own);
    ``backend_url``: the hub's, with its login; ``central``: the embedded central broker,
    told the edge logins of the branches once the bench's branch is provisioned."""
    devices_n, per_device = options["devices"], options["messages"]
    branch = f"B{uuid.uuid4().hex[:6].upper()}"
    host_id = f"bench{uuid.uuid4().hex[:6]}"
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    factory = bench_sessions(engine)
    creds = workdir / "creds.json"
    with session_scope(factory) as session:
        org = identity.get_or_create_org(session, branch, branch, "branch", None)
        identity.get_or_create_branch(session, branch, branch, org)
        session.flush()
        ensure_devices(session, SecretBox(SECRET_KEY), branch, {"counter": devices_n}, path=creds)
    if central is not None:  # what the broker's refresher does within EDGE_LOGINS_REFRESH_S
        central.access.set_edges(edge_logins(factory))
    commits = _Commits()
    hub = DeviceHub(
        factory,
        RecordingEmitter(),
        SECRET_KEY,
        backend_url,
        HubSettings(
            host_id=host_id,
            persistent_session=kind == "amqtt",
            refresh_s=0.3,
            branches={branch},
            reconnect_max_delay=0.5,
        ),
        on_committed=commits,
    ).start()
    env = {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "DATABASE_URL")}
    env.update(FINEDGE_ENV="demo", FINEDGE_VAR_DIR=str(workdir), FINEDGE_SECRET_KEY=SECRET_KEY)
    if branch_url:
        env["BRANCH_MQTT_URL"] = branch_url
    else:
        env.pop("BRANCH_MQTT_URL", None)
    edge_port = _free_port()
    edge = _Child(
        [
            FINEDGE,
            "edge",
            "--branch",
            branch,
            "--mqtt-port",
            str(edge_port),
            "--central",
            central_url,
            "--host-id",
            host_id,
            "--rate-limit",
            "1000000",
        ],
        env,
        log=workdir / "edge.log",
    )
    device_url = branch_url or f"mqtt://127.0.0.1:{edge_port}"
    load = _Child([sys.executable, "-m", "bench.mqtt_ingest", "load", str(creds), device_url], env)
    outbox = workdir / f"edge-{branch}.db"
    backlog = {"device_buffer": 0, "edge_outbox": 0, "ingest_backlog": 0}
    try:
        load.expect("ready", timeout=60)

        def wait_stored(sent: dict[str, float], timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while commits.missing(sent) and time.monotonic() < deadline:
                backlog["edge_outbox"] = max(backlog["edge_outbox"], _outbox_size(outbox))
                backlog["ingest_backlog"] = max(backlog["ingest_backlog"], hub.ingest.backlog)
                time.sleep(0.05)
            if commits.missing(sent):
                raise RuntimeError(f"{commits.missing(sent)} of {len(sent)} never stored")

        # The devices may be up before the edge has subscribed on the branch broker and has its
        # registry (a Mosquitto branch broker drops what nobody has subscribed to yet; the
        # edge drops devices it does not know yet): one message per device, again until one
        # is stored, before anything is measured.
        warm_deadline = time.monotonic() + 60
        while True:
            load.say("burst 1")
            warm = json.loads(load.expect("sent ")[5:])["sent"]
            if _wait(lambda warm=warm: commits.missing(warm) < len(warm), 2):
                break
            if time.monotonic() > warm_deadline:
                raise RuntimeError("the edge forwarded nothing within 60 s (see edge.log)")

        load.say(f"burst {per_device}")
        report = json.loads(load.expect("sent ")[5:])
        sent = report["sent"]
        backlog["device_buffer"] = report["max_buffered"]
        wait_stored(sent, 300)
        burst = len(sent) / (max(commits.at[i] for i in sent) - min(sent.values()))

        pace = min(options["pace"], max(10.0, burst / 2))  # latency below saturation
        load.say(f"pace {pace} {options['seconds']}")
        paced = json.loads(load.expect("sent ")[5:])["sent"]
        wait_stored(paced, 60)
        latencies = [(commits.at[i] - t) * 1000 for i, t in paced.items()]
        stats = {
            "ingest_written": hub.ingest.stats["written"],
            "ingest_dropped": hub.ingest.stats["queue_full_dropped"],
            "ingest_duplicates": hub.ingest.stats["duplicates"],
        }
    finally:
        load.stop()
        edge.stop()
        hub.stop()
        engine.dispose()
    return {
        "rate": burst,
        "pace": pace,
        "p50": statistics.median(latencies),
        "p99": _percentile(latencies, 0.99),
        "messages": len(sent),
        "backlog": backlog,
        **stats,
    }


def _load_generator(creds: str, broker_url: str) -> None:
    """Child process: the branch's devices, publishing on command (``burst N``, ``pace R S``)."""
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger(PAHO_LOGGER).setLevel(logging.CRITICAL)
    fleet = [
        make_device(identity_, broker_url, buffer_size=100_000, window=200, retry_max_delay=0.5)
        for identity_ in load_identities(creds)
    ]
    for device in fleet:
        device.start()
    deadline = time.monotonic() + 60
    while not all(d.connected for d in fleet) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            sent: dict[str, float] = {}
            max_buffered = 0
            if words[0] == "burst":
                for i in range(int(words[1])):
                    for device in fleet:
                        env = device.publish("telemetry", "counter.stats", {**SAMPLE, "i": i})
                        sent[env.id] = time.time()
                while any(d.buffered for d in fleet):
                    max_buffered = max(max_buffered, sum(d.buffered for d in fleet))
                    time.sleep(0.02)
            elif words[0] == "pace":
                rate, seconds = float(words[1]), float(words[2])
                start = time.monotonic()
                for i in range(max(1, int(rate * seconds))):
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    env = fleet[i % len(fleet)].publish("telemetry", "counter.stats", SAMPLE)
                    sent[env.id] = time.time()
                for device in fleet:
                    device.flush(30)
            print("sent " + json.dumps({"sent": sent, "max_buffered": max_buffered}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        for device in fleet:
            device.stop(graceful=False)


# --------------------------------------------------------------------------- rows


def _rows(kind: str, raw: dict, e2e: dict, options: dict[str, Any]) -> list[dict[str, Any]]:
    params = {
        "broker": kind,
        "devices": options["devices"],
        "burst_messages": e2e["messages"],
        "raw_messages": options["raw"],
        "pace_per_s": round(e2e["pace"], 1),
        "database": "sqlite",
        "max_backlog": e2e["backlog"],
        "ingest_duplicates": e2e["ingest_duplicates"],
        "ingest_dropped": e2e["ingest_dropped"],
    }
    return [
        {
            "bench": BENCH,
            "metric": "uplink_msgs_per_s",
            "value": round(e2e["rate"], 1),
            "unit": "1/s",
            "baseline": BASELINE,
            "baseline_value": round(raw["rate"], 1),
            "ratio": round(e2e["rate"] / raw["rate"], 3),
            "params": params,
        },
        {
            "bench": BENCH,
            "metric": "latency_p50_ms",
            "value": round(e2e["p50"], 2),
            "unit": "ms",
            "baseline": BASELINE + " (publish -> delivery, same pace)",
            "baseline_value": round(raw["p50"], 2),
            "ratio": round(raw["p50"] / e2e["p50"], 3),
            "params": params,
        },
        {
            "bench": BENCH,
            "metric": "latency_p99_ms",
            "value": round(e2e["p99"], 2),
            "unit": "ms",
            "baseline": BASELINE + " (publish -> delivery, same pace)",
            "baseline_value": round(raw["p99"], 2),
            "ratio": round(raw["p99"] / e2e["p99"], 3),
            "params": params,
        },
    ]


def run(options: dict[str, Any]) -> list[dict[str, Any]]:
    quick = bool(options.get("quick"))
    opts = {
        "devices": int(options.get("devices", 4 if quick else 10)),
        "messages": int(options.get("messages", 100 if quick else 800)),
        "raw": int(options.get("raw", 1000 if quick else 10000)),
        "pace": float(options.get("pace", 100 if quick else 200)),
        "seconds": float(options.get("seconds", 1 if quick else 5)),
    }
    rows: list[dict[str, Any]] = []
    for kind in options.get("brokers") or ("amqtt", "mosquitto"):
        with tempfile.TemporaryDirectory(prefix="finedge-bench-mqtt-") as tmp:
            workdir = Path(tmp)
            if kind == "amqtt":
                with central_broker(SECRET_KEY) as central:
                    backend_url = central.url_for(
                        BACKEND_USER, login_password(SECRET_KEY, BACKEND_USER)
                    )
                    raw = _raw(backend_url, opts["raw"], opts["pace"], opts["seconds"])
                    e2e = _end_to_end(
                        kind, central.url, backend_url, None, workdir, opts, central=central
                    )
            else:
                reason = _mosquitto_reason()
                if reason:
                    print(f"{BENCH}: mosquitto skipped: {reason}", file=sys.stderr)
                    continue
                shared_url = f"mqtt://{SHARED[0]}:{SHARED[1]}"
                raw = _raw(shared_url, opts["raw"], opts["pace"], opts["seconds"])
                with _private_mosquitto(workdir) as branch_url:
                    e2e = _end_to_end(kind, shared_url, shared_url, branch_url, workdir, opts)
            rows.extend(_rows(kind, raw, e2e, opts))
    return rows


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["load"]:
        _load_generator(sys.argv[2], sys.argv[3])
    else:
        for row in run({"quick": "--quick" in sys.argv}):
            print(json.dumps(row))
