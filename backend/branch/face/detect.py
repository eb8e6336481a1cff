"""The face in an image, with the library the issue names (face_recognition on dlib).

Detection is dlib's HOG frontal detector, upsampled once, which is what
``face_recognition.face_locations`` runs; we call it through ``run`` to get each box's score.
On scikit-image's ``astronaut`` the detector also fires on the suit (score ~0.1 against ~1.2
for the face, boxes of almost equal size), so a box counts only above ``min_score`` (0.5), and
of those the largest wins: the person in front of the camera. Only that box is encoded, which
makes our call cheaper than the library's detect-then-encode-all on a crowded frame.

Frames wider than ``max_width`` (640) are scaled down first: the bench's frame size, and the
HOG cost grows with the pixel count.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import numpy as np

MIN_SCORE = 0.5
MAX_WIDTH = 640
MAX_PIXELS = 40_000_000  # decompression-bomb guard for uploaded images
MODEL = "dlib_face_recognition_resnet_model_v1"


class NoFace(ValueError):
    """No face the detector is confident about."""


class BadImage(ValueError):
    """The bytes are not an image we can read."""


@dataclass(frozen=True)
class FaceCapture:
    encoding: np.ndarray
    box: tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)
    score: float
    faces_seen: int


_detector = None
_lock = threading.Lock()


def detector():
    global _detector
    with _lock:
        if _detector is None:
            import dlib

            _detector = dlib.get_frontal_face_detector()
    return _detector


def load_image(data: bytes, max_width: int = MAX_WIDTH) -> np.ndarray:
    """Image bytes -> RGB uint8 array, at most ``max_width`` wide."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB")
            if img.width > max_width:
                height = round(img.height * max_width / img.width)
                img = img.resize((max_width, height), Image.Resampling.BILINEAR)
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise BadImage("not a readable image") from None


def detect(image: np.ndarray, min_score: float = MIN_SCORE) -> list[tuple[tuple, float]]:
    """[(box, score)] of faces scoring at least ``min_score``, largest first."""
    rects, scores, _kinds = detector().run(image, 1, 0.0)
    found = []
    for rect, score in zip(rects, scores, strict=True):
        if score < min_score:
            continue
        height, width = image.shape[:2]
        box = (
            max(rect.top(), 0),
            min(rect.right(), width - 1),
            min(rect.bottom(), height - 1),
            max(rect.left(), 0),
        )
        found.append((box, float(score)))
    found.sort(key=lambda f: (-(f[0][2] - f[0][0]) * (f[0][1] - f[0][3]), -f[1]))
    return found


def encode_largest(image: np.ndarray, min_score: float = MIN_SCORE) -> FaceCapture:
    """Detect, keep the largest confident face, encode only it."""
    import face_recognition

    faces = detect(image, min_score)
    if not faces:
        raise NoFace("no face found")
    box, score = faces[0]
    encoding = face_recognition.face_encodings(image, known_face_locations=[box])[0]
    return FaceCapture(np.asarray(encoding, dtype=np.float64), box, score, len(faces))
