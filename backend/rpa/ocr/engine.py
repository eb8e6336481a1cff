"""The OCR engine: rapidocr-onnxruntime (PP-OCRv4 detection and recognition, Chinese and
English, models shipped in the wheel: nothing downloads). One engine per process, built on
first use (about 0.3 s), on ONE thread: the factory reads pages in parallel by running items
in several worker processes, and onnxruntime's default (a thread per core) in each of them
only fights over the cores (measured: 1.1 s of CPU a page on one thread, 2 s on two, for the
same wall time). docs/rpa-ocr.md has the figures."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_engine: Any = None
THREADS = 1


class Unreadable(Exception):
    """The bytes are not an image, or no text was found on it."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[tuple[float, float], ...]  # four corners, clockwise from top-left, in pixels
    confidence: float  # the recogniser's score, 0..1

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)


def engine() -> Any:
    """The process's RapidOCR engine, built once."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                from rapidocr_onnxruntime import RapidOCR

                _engine = RapidOCR(
                    print_verbose=False,
                    intra_op_num_threads=THREADS,
                    inter_op_num_threads=THREADS,
                )
    return _engine


def decode(image: bytes) -> Any:
    """The image as a BGR array, or ``Unreadable``."""
    import cv2
    import numpy as np

    array = cv2.imdecode(np.frombuffer(image, dtype=np.uint8), cv2.IMREAD_COLOR) if image else None
    if array is None or array.size == 0:
        raise Unreadable("not an image")
    return array


def read_lines(image: bytes) -> list[OcrLine]:
    """The text lines on the image (each a detected box, its text and confidence), top to
    bottom. Raises ``Unreadable`` when the bytes are no image or carry no text."""
    array = decode(image)
    result, _elapsed = engine()(array, use_cls=False)
    lines = [
        OcrLine(
            text=str(text),
            box=tuple((float(x), float(y)) for x, y in box),
            confidence=float(score),
        )
        for box, text, score in (result or ())
    ]
    if not lines:
        raise Unreadable("no text found")
    return sorted(lines, key=lambda line: (line.top, line.left))
