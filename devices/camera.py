"""Door camera: counts people entering and sends a face *encoding* per person (not the image),
in the shape face_recognition produces (128 floats, euclidean distance < 0.6 means the same
person). The hall issue matches them against known clients.

Simulated people are stable: ``person_enters("client1")`` always yields encodings close to the
same base vector (noise well inside the 0.6 threshold), a stranger a new random one.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

from devices.base import SimulatedDevice

ENCODING_MODEL = "dlib_face_recognition_resnet_model_v1"
ENCODING_SIZE = 128


def base_encoding(person: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(person.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    return [rng.gauss(0.0, 0.09) for _ in range(ENCODING_SIZE)]


class DoorCamera(SimulatedDevice):
    device_type = "camera"
    telemetry_interval_s = 60.0

    def default_config(self) -> dict[str, Any]:
        return {
            **super().default_config(),
            "send_encodings": True,
            "min_quality": 0.5,
            "arrivals_per_min": 3.0,
        }

    def initial_state(self) -> dict[str, Any]:
        return {"people_today": 0, "fps": 15, "lens": "ok"}

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return ("camera.status", dict(self.state))

    def person_enters(self, person: str | None = None, *, quality: float | None = None) -> str:
        """Someone walks in; returns the track id. ``person`` names a recurring visitor."""
        track_id = uuid.uuid4().hex[:12]
        quality = self.rng.uniform(0.55, 0.99) if quality is None else quality
        with self.lock:
            self.state["people_today"] += 1
            send = self.config["send_encodings"] and quality >= float(self.config["min_quality"])
        data: dict[str, Any] = {"track_id": track_id, "quality": round(quality, 3)}
        if send:
            base = base_encoding(person or uuid.uuid4().hex)
            data["model"] = ENCODING_MODEL
            data["encoding"] = [round(x + self.rng.gauss(0.0, 0.015), 5) for x in base]
        self.publish("event", "camera.face" if send else "camera.person", data)
        return track_id

    def simulate(self, now: float, dt: float) -> None:
        if self.rng.random() < dt * float(self.config["arrivals_per_min"]) / 60:
            regular = self.rng.random() < 0.4
            self.person_enters(f"client{self.rng.randint(1, 20)}" if regular else None)
