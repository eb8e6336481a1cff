"""Robots for the factory's own tests: deployable by entry point (``tests.rpa.robots:ECHO``),
importable by worker processes (the project root is on their path)."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

from backend.rpa.robot import ApplicationFailure, BusinessFailure, Manifest, Robot


def _produce(ctx):
    for n in range(int(ctx.params.get("n", 3))):
        payload = {"n": n, "mode": ctx.params.get("mode", "ok")}
        for extra in ("seconds", "marker"):
            if extra in ctx.params:
                payload[extra] = ctx.params[extra]
        yield payload


def _process(ctx, payload):
    mode = payload.get("mode", "ok")
    ctx.log(f"item {payload['n']} mode {mode} attempt {ctx.attempt}")
    if mode == "business":
        raise BusinessFailure("difference", f"item {payload['n']} does not match", {"n": 1})
    if mode == "flaky" and ctx.attempt < 3:
        raise ApplicationFailure("system_down", "the core system did not answer")
    if mode == "always_down":
        raise ApplicationFailure("system_down", "the core system did not answer")
    if mode == "sleep":
        time.sleep(float(payload.get("seconds", 30)))
    if mode == "marker":
        # a worker test: the item says where to record that it ran (which process)
        Path(payload["marker"]).joinpath(f"{payload['n']}-{os.getpid()}").touch()
        time.sleep(float(payload.get("seconds", 0)))
    if mode == "emit":
        ctx.emit("tst_sink", {"n": payload["n"] * 10, "mode": "ok"})
    return {"n": payload["n"], "twice": payload["n"] * 2}


def _manifest(name: str, version: str = "1.0.0", **kw) -> Manifest:
    base = dict(
        name=name,
        version=version,
        department="operations",
        title=f"test robot {name}",
        input_schema={"n": "int", "mode": "str"},
        timeout_s=30,
        max_retries=3,
        manual_minutes=Decimal("2.5"),
    )
    base.update(kw)
    return Manifest(**base)


ECHO = Robot(
    manifest=_manifest("tst_echo", feeds=("tst_sink",)), produce=_produce, process=_process
)
ECHO_V2 = Robot(
    manifest=_manifest("tst_echo", "1.1.0", feeds=("tst_sink",)), produce=_produce, process=_process
)
SINK = Robot(manifest=_manifest("tst_sink"), process=_process)
FINANCE = Robot(
    manifest=_manifest("tst_finance", department="finance"), produce=_produce, process=_process
)
SHORT = Robot(
    manifest=_manifest("tst_short", timeout_s=1, max_retries=1), produce=_produce, process=_process
)
ECHO_CLONE = Robot(
    manifest=_manifest("tst_echo", feeds=("tst_sink",)), produce=_produce, process=_process
)
