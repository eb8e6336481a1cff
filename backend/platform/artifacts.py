"""Trained-model artifacts kept in the database: pickled, checksummed, and loaded through a
small per-process cache (the risk models, the AVM, the uplift models).

A blob is our own pickle; ``loads`` refuses one whose SHA-256 is not the recorded one before
unpickling it. ``ArtifactCache`` keeps at most ``size`` loaded models keyed by (row id,
checksum), so a promoted or retrained model is never served from a stale entry.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from typing import Any


def dumps(obj: Any) -> tuple[bytes, str]:
    """The pickled object and its SHA-256 (hex)."""
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return blob, hashlib.sha256(blob).hexdigest()


def loads(blob: bytes, sha256: str, what: str = "model artifact") -> Any:
    """The object, if the blob matches its checksum; else ValueError naming ``what``."""
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ValueError(f"{what} does not match its checksum")
    return pickle.loads(blob)  # noqa: S301 - our own artifact, checksum verified above


class ArtifactCache:
    """Loaded artifacts by (row id, checksum), at most ``size`` (then emptied), thread-safe."""

    def __init__(self, what: str = "model artifact", size: int = 8) -> None:
        self.what = what
        self.size = size
        self._items: dict[tuple[int, str], Any] = {}
        self._lock = threading.Lock()

    def load(self, row_id: int, sha256: str, blob: bytes) -> Any:
        key = (row_id, sha256)
        with self._lock:
            hit = self._items.get(key)
        if hit is not None:
            return hit
        obj = loads(blob, sha256, self.what)
        self.put(row_id, sha256, obj)
        return obj

    def put(self, row_id: int, sha256: str, obj: Any) -> None:
        with self._lock:
            if len(self._items) > self.size:
                self._items.clear()
            self._items[(row_id, sha256)] = obj

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
