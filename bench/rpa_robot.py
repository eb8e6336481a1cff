"""The robot ``finedge bench rpa`` runs through the queue and in a bare loop: about 10 ms of
CPU per item (key stretching, a stand-in for a robot's own work) and a small result."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from backend.rpa.robot import Manifest, Robot


def _produce(ctx):
    for n in range(int(ctx.params.get("n", 10))):
        yield {"n": n}


def _process(_ctx, payload):
    digest = hashlib.pbkdf2_hmac("sha256", str(payload["n"]).encode(), b"finedge", 40_000)
    return {"n": payload["n"], "digest": digest.hex()[:16]}


ROBOT = Robot(
    manifest=Manifest(
        name="bench_work",
        version="1.0.0",
        department="operations",
        title="benchmark work item (10 ms of CPU)",
        input_schema={"n": "int"},
        concurrency=16,
        timeout_s=60,
        max_retries=1,
        manual_minutes=Decimal("1"),
    ),
    produce=_produce,
    process=_process,
)
