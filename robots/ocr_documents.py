"""The OCR robot: reads an uploaded scan (a certificate of conformity, a VAT invoice or a
business licence) and returns its fields, each with its confidence (docs/rpa-ocr.md).

Items come from uploads through the factory's API, so ``produce`` yields nothing. The payload
names the document kind and the artefact holding the image. A page where any field's
confidence is under the threshold (the run's ``threshold`` parameter, else
``DEFAULT_THRESHOLD``; a field whose check digit or total fails counts 0) goes to a person's
review as ``low_confidence`` with what was read; a page that is no image or carries no text of
the kind goes there as ``unreadable``. Neither is retried: the scan will not improve.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from backend.rpa.ocr import KINDS, Unreadable, read_document
from backend.rpa.robot import BusinessFailure, ItemContext, Manifest, Robot, produce_nothing

DEFAULT_THRESHOLD = 0.90


def threshold(ctx: ItemContext) -> float:
    value = ctx.params.get("threshold")
    return float(value) if value else DEFAULT_THRESHOLD


def process(ctx: ItemContext, payload: dict[str, Any]) -> dict[str, Any]:
    kind = payload["kind"]
    if kind not in KINDS:
        raise BusinessFailure(
            "unknown_kind", f"no reader for documents of kind {kind!r}", {"kinds": list(KINDS)}
        )
    image = ctx.read_artefact(int(payload["artefact_id"]))
    try:
        found = read_document(kind, image)
    except Unreadable as exc:
        raise BusinessFailure("unreadable", f"the {kind} scan is unreadable: {exc}") from exc
    fields, confidences = found.values(), found.confidences()
    if all(value is None for value in fields.values()):
        raise BusinessFailure(
            "unreadable", f"no field of a {kind} found on the page", {"kind": kind}
        )
    limit = threshold(ctx)
    low = found.low(limit)
    if low:
        raise BusinessFailure(
            "low_confidence",
            f"{len(low)} field(s) of the {kind} under confidence {limit}: {', '.join(low)}",
            {
                "kind": kind,
                "fields": fields,
                "confidences": confidences,
                "low": low,
                "threshold": limit,
            },
        )
    ctx.log(f"{kind} read: {len(fields)} fields, lowest confidence {min(confidences.values())}")
    return {"kind": kind, "fields": fields, "confidences": confidences}


ROBOT = Robot(
    manifest=Manifest(
        name="ocr_documents",
        version="1.0.0",
        department="operations",
        title="Read scanned documents",
        description=(
            "Fields of a certificate of conformity, a VAT invoice or a business licence from "
            "an uploaded scan; a page with a field under the confidence threshold goes to review."
        ),
        input_schema={"kind": "str", "artefact_id": "int"},
        concurrency=2,
        timeout_s=60,
        max_retries=2,
        manual_minutes=Decimal("4"),
    ),
    produce=produce_nothing,
    process=process,
)
