"""What a face encoding must look like before anything stores, matches or compares it.

face_recognition (dlib's ``dlib_face_recognition_resnet_model_v1``) gives 128 float64 values.
Measured on the photographs the tests use (scikit-image's astronaut, opencv-doc's messi5,
basketball1, basketball2 and ml, each also scaled, brightened, darkened, flipped, lowered in
contrast, greyed, halved and turned 10°: 33 encodings), the euclidean norm was 1.339 to 1.465
(mean 1.410) and no value exceeded 0.436 in magnitude; the door camera's simulator sends norms
near 1.0. So an encoding is accepted when it is

- 128 numbers (not booleans), every one finite, each within ``MAX_COMPONENT`` (1.0), and
- of norm within ``NORM_RANGE`` (0.6 to 2.0: real faces with a wide margin either side),

which refuses ``[1e308] * 128`` (its squared distances overflow to inf and then NaN in the
matcher's float32, and a NaN distance broke recognition for everyone), NaN, ±inf, the zero
vector, wrong lengths and absurd norms. Every entry checks (HTTP enrolment, the door camera's
uplinks, the encryption box every stored encoding goes through) and the matcher skips any
stored row that fails, so one bad row never breaks matching for the others.

Messages name the rule broken, never a value of the encoding.
"""

from __future__ import annotations

import math

import numpy as np

ENCODING_SIZE = 128
NORM_RANGE = (0.6, 2.0)
MAX_COMPONENT = 1.0


class InvalidEncoding(ValueError):
    """``reason``: not_a_list, wrong_length, not_numbers, not_finite, component_out_of_range,
    norm_out_of_range."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a face encoding: {reason}")
        self.reason = reason


def check(value: object) -> np.ndarray:
    """The encoding as a float64 vector, or InvalidEncoding."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiu":
            raise InvalidEncoding("not_numbers")
        items = value.reshape(-1).tolist() if value.ndim == 1 else None
        if items is None:
            raise InvalidEncoding("wrong_length")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidEncoding("not_a_list")
    if len(items) != ENCODING_SIZE:
        raise InvalidEncoding("wrong_length")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in items):
        raise InvalidEncoding("not_numbers")
    try:
        floats = [float(x) for x in items]
    except OverflowError:  # an int beyond float range
        raise InvalidEncoding("not_finite") from None
    if not all(math.isfinite(x) for x in floats):
        raise InvalidEncoding("not_finite")
    if any(abs(x) > MAX_COMPONENT for x in floats):
        raise InvalidEncoding("component_out_of_range")
    vector = np.asarray(floats, dtype=np.float64)
    lo, hi = NORM_RANGE
    if not lo <= float(np.linalg.norm(vector)) <= hi:
        raise InvalidEncoding("norm_out_of_range")
    return vector


def usable_rows(matrix: np.ndarray) -> np.ndarray:
    """A boolean mask of the rows of an (N, 128) matrix that pass ``check``'s rules."""
    m = np.asarray(matrix, dtype=np.float64).reshape(-1, ENCODING_SIZE)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.all(np.isfinite(m), axis=1)
        bounded = np.all(np.abs(np.where(np.isfinite(m), m, 0.0)) <= MAX_COMPONENT, axis=1)
        safe = np.where(finite[:, None] & bounded[:, None], m, 0.0)
        norms = np.sqrt(np.einsum("ij,ij->i", safe, safe))
    lo, hi = NORM_RANGE
    return finite & bounded & (norms >= lo) & (norms <= hi)
