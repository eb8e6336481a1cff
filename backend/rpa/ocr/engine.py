"""The OCR engine: rapidocr-onnxruntime (PP-OCRv4 detection and recognition, Chinese and
English, models shipped in the wheel: nothing downloads). One engine per process, built on
first use (about 0.3 s), on ONE thread: the factory reads pages in parallel by running items
in several worker processes, and onnxruntime's default (a thread per core) in each of them
only fights over the cores (measured: 1.1 s of CPU a page on one thread, 1.8-3.2 s on the
default, no better wall time on a loaded 2-core box). docs/rpa-ocr.md has the figures."""

from __future__ import annotations

import threading
from collections.abc import Sequence
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
    return lines_of(decode(image))


def lines_of(array: Any) -> list[OcrLine]:
    """``read_lines`` on a decoded image."""
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


# the second look: the recogniser (CTC) merges a run of one character (``000`` read ``00``) on
# a tight crop; the same box with a margin, twice as wide, gives it room (docs/rpa-ocr.md)
REREAD_MARGIN = (8, 3)  # pixels added left and right, above and below
REREAD_STRETCH = 2.0


def reread(array: Any, lines: Sequence[OcrLine]) -> list[OcrLine]:
    """The lines recognised again from their boxes, widened and stretched."""
    import cv2

    if not lines:
        return []
    height, width = array.shape[:2]
    mx, my = REREAD_MARGIN
    crops = []
    for line in lines:
        x0 = max(int(line.left) - mx, 0)
        x1 = min(int(max(x for x, _ in line.box)) + mx, width)
        y0, y1 = max(int(line.top) - my, 0), min(int(line.bottom) + my, height)
        crop = array[y0:y1, x0:x1]
        if crop.size == 0:
            crop = array[0:1, 0:1]
        crops.append(
            cv2.resize(crop, None, fx=REREAD_STRETCH, fy=1.0, interpolation=cv2.INTER_CUBIC)
        )
    found, _elapsed = engine().text_rec(crops)
    return [
        OcrLine(text=str(text).strip(), box=line.box, confidence=float(score))
        for line, (text, score) in zip(lines, found, strict=True)
    ]
