"""Many Socket.IO clients of ``/live`` held by one process, for the web benchmarks and tests.

The clients speak Engine.IO 4 / Socket.IO 5 over a websocket themselves, one asyncio coroutine
each (python-socketio's own clients take two threads or an aiohttp session apiece, too heavy
for thousands): open the websocket, connect to the namespace with a JWT, answer the server's
pings, note each event's arrival. Each is a real client to the server: it is authenticated,
joins its rooms, and receives what is emitted to them.

``Holder`` runs them in their own process (``python -m bench.socketio_clients``), so that their
CPU is not taken from the caller's HTTP load generator (the GIL). Protocol with it: the
parameters and tokens as one JSON line on stdin; on stdout JSON lines: ``progress`` while
connecting, ``connected`` once every client has connected, been refused or failed; then, for
each line ``report MARK`` on stdin, ``report`` with how many clients received an event whose
payload carries ``{"bench_mark": MARK}`` and when the last one did (``time.monotonic``, the
same clock for every process of the machine). ``stop`` (or the end of stdin) ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "/live"
PROGRESS_EVERY_S = 1.0


@dataclass
class Tally:
    connected: int = 0
    refused: int = 0
    failed: int = 0
    dropped: int = 0  # connected, then closed by the server
    errors: dict[str, int] = field(default_factory=dict)
    marks: dict[str, list[float]] = field(default_factory=dict)

    def error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


async def _client(url: str, token: str, tally: Tally, gate: asyncio.Semaphore, opened) -> None:
    from websockets.asyncio.client import connect

    ws_url = (
        url.replace("http://", "ws://", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
    )
    connected = False
    try:
        async with gate:  # at most this many handshakes in flight
            ws = await connect(
                ws_url, compression=None, ping_interval=None, proxy=None, open_timeout=60
            )
            await ws.recv()  # Engine.IO open: 0{"sid":…,"pingInterval":…}
            await ws.send(f"40{NAMESPACE}," + json.dumps({"token": token}))
            while True:
                message = await ws.recv()
                if message == "2":
                    await ws.send("3")
                elif message.startswith(f"40{NAMESPACE},"):
                    break
                elif message.startswith(f"44{NAMESPACE},"):
                    tally.refused += 1
                    await ws.close()
                    return
        connected = True
        tally.connected += 1
        opened(ws)
        event_prefix = f"42{NAMESPACE},"
        async for message in ws:
            if message == "2":
                await ws.send("3")
            elif isinstance(message, str) and message.startswith(event_prefix):
                _name, *args = json.loads(message[len(event_prefix) :])
                mark = args[0].get("bench_mark") if args and isinstance(args[0], dict) else None
                if mark is not None:
                    tally.marks.setdefault(mark, []).append(time.monotonic())
        tally.dropped += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        tally.error(exc)
        if connected:
            tally.dropped += 1
        else:
            tally.failed += 1


def _emit(kind: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"kind": kind, **fields}) + "\n")
    sys.stdout.flush()


def _counts(tally: Tally, started: float) -> dict[str, Any]:
    return {
        "connected": tally.connected,
        "refused": tally.refused,
        "failed": tally.failed,
        "dropped": tally.dropped,
        "errors": tally.errors,
        "elapsed_s": round(time.monotonic() - started, 3),
    }


async def _hold(spec: dict[str, Any], commands: asyncio.Queue) -> None:
    tally = Tally()
    gate = asyncio.Semaphore(int(spec.get("concurrency", 100)))
    sockets: list[Any] = []
    tokens = spec["tokens"]
    started = time.monotonic()
    tasks = [
        asyncio.create_task(
            _client(spec["url"], tokens[i % len(tokens)], tally, gate, sockets.append)
        )
        for i in range(int(spec["clients"]))
    ]
    total = len(tasks)
    while tally.connected + tally.refused + tally.failed < total:
        await asyncio.sleep(min(PROGRESS_EVERY_S, 0.05 if total < 100 else PROGRESS_EVERY_S))
        _emit("progress", **_counts(tally, started))
    _emit("connected", **_counts(tally, started))
    while True:
        command = await commands.get()
        if command is None or command == "stop":
            break
        if command.startswith("report "):
            mark = command.split(" ", 1)[1]
            times = tally.marks.get(mark, [])
            _emit(
                "report",
                mark=mark,
                received=len(times),
                last_at=max(times) if times else None,
                **_counts(tally, started),
            )
    for task in tasks:
        task.cancel()
    for ws in sockets:
        ws.transport.abort()  # no closing handshake for thousands: the server sees them go
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = json.loads(sys.stdin.readline())
    loop = asyncio.new_event_loop()
    commands: asyncio.Queue = asyncio.Queue()

    def read_commands() -> None:  # stdin in a thread, handed to the loop
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, None)

    threading.Thread(target=read_commands, daemon=True).start()
    loop.run_until_complete(_hold(spec, commands))
    loop.close()


class HolderError(RuntimeError):
    pass


class Holder:
    """The clients' process, seen from the caller: ``start``, ``wait_connected``, ``report``,
    ``stop``. Every wait takes a deadline (``time.monotonic``) and raises TimeoutError past it."""

    def __init__(self, url: str, tokens: list[str], clients: int, concurrency: int = 100):
        self.spec = {"url": url, "tokens": tokens, "clients": clients, "concurrency": concurrency}
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.last: dict[str, Any] = {}

    def start(self) -> Holder:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.socketio_clients"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._send(json.dumps(self.spec))
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def _next(self, kind: str, deadline: float, what: str) -> dict[str, Any]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"time limit reached while {what} ({self.last or 'nothing'})")
            try:
                line = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                raise HolderError(f"the Socket.IO clients' process ended while {what}")
            self.last = line
            if line["kind"] == kind:
                return line

    def wait_connected(self, deadline: float) -> dict[str, Any]:
        clients = self.spec["clients"]
        return self._next("connected", deadline, f"connecting {clients} Socket.IO clients")

    def report(self, mark: str, expected: int, deadline: float) -> dict[str, Any]:
        """How many clients received the event marked ``mark``: asks until ``expected`` did
        or the deadline passes (then the last answer)."""
        while True:
            self._send(f"report {mark}")
            answer = self._next("report", deadline, f"waiting for event {mark}")
            if answer["received"] >= expected or time.monotonic() + 0.05 > deadline:
                return answer
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._send("stop")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None


if __name__ == "__main__":
    main()
