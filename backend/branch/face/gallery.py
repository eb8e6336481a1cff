"""1:N matching of one face encoding against every enrolled one, vectorised with numpy.

The enrolled encodings sit in one (N, 128) float32 matrix with their squared norms, so a query
is one matrix-vector product: ||e - q||^2 = ||e||^2 - 2 e.q + ||q||^2, then the argmin (||q||^2
is the same for every row, so only the best one needs it and a square root). This is the
distance face_recognition.face_distance computes (euclidean), without its per-call (N, 128)
difference matrix. Why float32: a query streams the whole matrix from memory, and half the
bytes is half the time at 100,000 encodings; the rounding (~1e-7 on distances near 0.6) is far
below any tolerance. Why einsum rather than ``@``: it runs on the calling thread, while the
multi-threaded BLAS matrix-vector product was several times slower on a busy two-core machine.

Only usable encodings enter the matrix (vectors.usable_rows: finite, bounded, of a face's norm);
the ids of stored rows left out are kept in ``skipped_ids``, so a bad stored row can neither
poison the matrix (an inf or NaN row made every distance NaN) nor be decrypted again at every
update. A query that is not usable, or a distance that is not finite, matches nobody.

The best match counts when its distance is at most the tolerance (face_recognition's default
0.6; lower is stricter: fewer false matches, more missed clients; a branch may set its own).

The decrypted gallery is cached per database and brought up to date when its version changes
(count and highest id of the encodings: any enrolment or deletion changes it), so a withdrawal
takes effect at the next match. The update is incremental (``updated``): rows of encodings that
are gone are dropped, only new encodings are decrypted and appended; decrypting every encoding
again would take seconds at 100,000.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from backend.branch.face.vectors import usable_rows

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
        skipped_ids: np.ndarray | None = None,
        checked: bool = False,
    ):
        """``checked``: every row is known usable (``updated`` checks only the new ones);
        otherwise the rows that are not are left out and their ids kept in ``skipped_ids``."""
        matrix = np.asarray(encodings).reshape(-1, 128)
        user_ids = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        if len(user_ids) != len(matrix):
            raise ValueError("one user id per encoding")
        encoding_ids = (
            np.arange(len(matrix), dtype=np.int64)
            if encoding_ids is None
            else np.asarray(encoding_ids, dtype=np.int64).reshape(-1)
        )
        if len(encoding_ids) != len(matrix):
            raise ValueError("one encoding id per encoding")
        self.skipped_ids = np.asarray(
            np.empty(0) if skipped_ids is None else skipped_ids, dtype=np.int64
        )
        if not checked:
            usable = usable_rows(matrix)
            if not usable.all():
                self.skipped_ids = np.concatenate([self.skipped_ids, encoding_ids[~usable]])
                matrix, user_ids, encoding_ids = (
                    matrix[usable],
                    user_ids[usable],
                    encoding_ids[usable],
                )
                sq_norms = None if sq_norms is None else np.asarray(sq_norms)[usable]
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.user_ids = user_ids
        self.encoding_ids = encoding_ids
        self.sq_norms = (
            np.einsum("ij,ij->i", self.matrix, self.matrix)
            if sq_norms is None
            else np.asarray(sq_norms)
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
        order), then the new encodings that are usable. Kept rows are copied, not recomputed
        nor checked again."""
        keep_ids = np.asarray(keep_ids, dtype=np.int64)
        keep = np.isin(self.encoding_ids, keep_ids)
        added = np.asarray(new_encodings, dtype=np.float64).reshape(-1, 128)
        new_ids = np.asarray(new_ids, dtype=np.int64).reshape(-1)
        usable = usable_rows(added)
        added32 = np.ascontiguousarray(added[usable], dtype=np.float32)
        return Gallery(
            np.concatenate([self.user_ids[keep], np.asarray(new_user_ids, dtype=np.int64)[usable]]),
            np.concatenate([self.matrix[keep], added32]),
            version,
            encoding_ids=np.concatenate([self.encoding_ids[keep], new_ids[usable]]),
            sq_norms=np.concatenate([self.sq_norms[keep], np.einsum("ij,ij->i", added32, added32)]),
            skipped_ids=np.concatenate(
                [self.skipped_ids[np.isin(self.skipped_ids, keep_ids)], new_ids[~usable]]
            ),
            checked=True,
        )

    def known_ids(self) -> np.ndarray:
        """The stored ids this gallery has read: matched ones and skipped ones."""
        return np.concatenate([self.encoding_ids, self.skipped_ids])

    @staticmethod
    def _usable(query: np.ndarray) -> bool:
        q = np.asarray(query, dtype=np.float64).reshape(-1)
        return q.shape == (128,) and bool(usable_rows(q)[0])

    def _partial(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        q = np.asarray(query, dtype=np.float32).reshape(128)
        partial = self.sq_norms - 2.0 * np.einsum("ij,j->i", self.matrix, q)
        return partial, float(np.dot(q, q))

    def distances(self, query: np.ndarray) -> np.ndarray:
        partial, qq = self._partial(query)
        # rounding can make a zero distance slightly negative
        return np.sqrt(np.maximum(partial + qq, 0.0))

    def best(self, query: np.ndarray, tolerance: float = DEFAULT_TOLERANCE) -> Match | None:
        if len(self) == 0 or not self._usable(query):
            return None
        partial, qq = self._partial(query)
        i = int(np.argmin(partial))
        distance = float(np.sqrt(max(float(partial[i]) + qq, 0.0)))
        if not math.isfinite(distance) or distance > tolerance:
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
