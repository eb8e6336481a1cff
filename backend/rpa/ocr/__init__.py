"""Reading documents for the OCR robot (pure domain: no Flask, no database): the engine
(``engine.read_lines``), the fields of a certificate of conformity, a VAT invoice or a business
licence (``fields.extract``), the check digits of their codes (``codes``) and generated sample
pages (``samples``). ``read_document(kind, image)`` does it all."""

from __future__ import annotations

from backend.rpa.ocr.engine import OcrLine, Unreadable, read_lines
from backend.rpa.ocr.fields import KINDS, Extraction, Field, extract

__all__ = [
    "KINDS",
    "Extraction",
    "Field",
    "OcrLine",
    "Unreadable",
    "extract",
    "read_document",
    "read_lines",
]


def read_document(kind: str, image: bytes) -> Extraction:
    """The fields of one page; ``Unreadable`` when it is no image or carries no text."""
    return extract(kind, read_lines(image))
