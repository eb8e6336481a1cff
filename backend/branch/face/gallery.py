"""1:N matching of one face encoding against every enrolled one, vectorised with numpy.

The enrolled encodings sit in one (N, 128) float32 matrix with their squared norms, so a query
is one matrix-vector product: ||e - q||^2 = ||e||^2 - 2 e.q + ||q||^2, then the argmin (||q||^2
is the same for every row, so only the best one needs it and a square root). This is the
distance face_recognition.face_distance computes (euclidean), without its per-call (N, 128)
difference matrix. Why float32: a query streams the whole matrix from memory, and half the
bytes is half the time at 100,000 encodings; the rounding (~1e-7 on distances near 0.6) is far
below any tolerance. Why einsum rather than ``@``: it runs on the calling thread, while the
multi-threaded BLAS matrix-vector product was several times slower on a busy two-core machine.

The best match counts when its distance is at most the tolerance (face_recognition's default
0.6; lower is stricter: fewer false matches, more missed clients; a branch may set its own).

The decrypted gallery is cached per database and brought up to date when its version changes
(count and highest id of the encodings: any enrolment or deletion changes it), so a withdrawal
takes effect at the next match. The update is incremental (``updated``): rows of encodings that
are gone are dropped, only new encodings are decrypted and appended; decrypting every encoding
again would take seconds at 100,000.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

DEFAULT_TOLERANCE = 0.6


@dataclass(frozen=True)
class Match:
    user_id: int
    distance: float


class Gallery:
    def __init__(
        self,
        user_ids: np.ndarray,
        encodings: np.ndarray,
        version: object = None,
        *,
        encoding_ids: np.ndarray | None = None,
        sq_norms: np.ndarray | None = None,
    ):
        matrix = np.ascontiguousarray(encodings, dtype=np.float32).reshape(-1, 128)
        self.user_ids = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        if len(self.user_ids) != len(matrix):
            raise ValueError("one user id per encoding")
        self.encoding_ids = (
            np.arange(len(matrix), dtype=np.int64)
            if encoding_ids is None
            else np.asarray(encoding_ids, dtype=np.int64).reshape(-1)
        )
        if len(self.encoding_ids) != len(matrix):
            raise ValueError("one encoding id per encoding")
        self.matrix = matrix
        self.sq_norms = (
            np.einsum("ij,ij->i", matrix, matrix) if sq_norms is None else np.asarray(sq_norms)
        )
        self.version = version

    def __len__(self) -> int:
        return len(self.user_ids)

    def updated(
        self,
        keep_ids: np.ndarray,
        new_ids: np.ndarray,
        new_user_ids: np.ndarray,
        new_encodings: np.ndarray,
        version: object,
    ) -> Gallery:
        """A new gallery: the rows whose encoding id is in ``keep_ids`` (in this gallery's
        order), then the new encodings. Kept rows are copied, not recomputed."""
        keep = np.isin(self.encoding_ids, np.asarray(keep_ids, dtype=np.int64))
        added = np.ascontiguousarray(new_encodings, dtype=np.float32).reshape(-1, 128)
        return Gallery(
            np.concatenate([self.user_ids[keep], np.asarray(new_user_ids, dtype=np.int64)]),
            np.concatenate([self.matrix[keep], added]),
            version,
            encoding_ids=np.concatenate(
                [self.encoding_ids[keep], np.asarray(new_ids, dtype=np.int64)]
            ),
            sq_norms=np.concatenate([self.sq_norms[keep], np.einsum("ij,ij->i", added, added)]),
        )

    def _partial(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        q = np.asarray(query, dtype=np.float32).reshape(128)
        partial = self.sq_norms - 2.0 * np.einsum("ij,j->i", self.matrix, q)
        return partial, float(np.dot(q, q))

    def distances(self, query: np.ndarray) -> np.ndarray:
        partial, qq = self._partial(query)
        # rounding can make a zero distance slightly negative
        return np.sqrt(np.maximum(partial + qq, 0.0))

    def best(self, query: np.ndarray, tolerance: float = DEFAULT_TOLERANCE) -> Match | None:
        if len(self) == 0:
            return None
        partial, qq = self._partial(query)
        i = int(np.argmin(partial))
        distance = float(np.sqrt(max(float(partial[i]) + qq, 0.0)))
        if distance > tolerance:
            return None
        return Match(int(self.user_ids[i]), distance)


_cache: dict[str, Gallery] = {}
_cache_lock = threading.Lock()


def latest(key: str) -> Gallery | None:
    """The last gallery stored under ``key``, whatever its version (to update it)."""
    with _cache_lock:
        return _cache.get(key)


def store(key: str, gallery: Gallery) -> None:
    with _cache_lock:
        _cache[key] = gallery


def forget(key: str) -> None:
    with _cache_lock:
        _cache.pop(key, None)
