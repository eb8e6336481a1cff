"""The OCR robot on generated pages through its own ``process`` (the real engine): a clean
page is read, a blurred one or a too-high threshold sends it to review, garbage is unreadable;
and the field accuracy over 24 pages of the three kinds, Chinese and English labels."""

from __future__ import annotations

import pytest

from backend.rpa.ocr import samples
from backend.rpa.robot import BusinessFailure, produce_nothing
from backend.rpa.testing import item_context
from bench.rpa_ocr import measure_ocr
from robots import ocr_documents
from robots.ocr_documents import ROBOT

needs_font = pytest.mark.skipif(
    samples.font_path() is None,
    reason="the CJK font is missing (apt-get install fonts-wqy-microhei): no sample pages",
)


def run(image: bytes, kind: str, params: dict | None = None):
    # the robot uses neither a database session nor the config
    ctx, got = item_context(None, None, params=params, files={7: image})
    return ROBOT.process(ctx, {"kind": kind, "artefact_id": 7}), got


def test_manifest():
    m = ROBOT.manifest
    assert (m.name, m.department, m.manual_minutes) == ("ocr_documents", "operations", 4)
    assert m.input_schema == {"kind": "str", "artefact_id": "int"}
    assert ROBOT.produce is produce_nothing
    assert ocr_documents.DEFAULT_THRESHOLD == 0.90


def test_garbage_is_unreadable_not_retried():
    with pytest.raises(BusinessFailure) as failure:
        run(b"%PDF-1.4 not an image", "coc")
    assert failure.value.code == "unreadable"


def test_an_unknown_kind_goes_to_review():
    with pytest.raises(BusinessFailure) as failure:
        run(b"", "passport")
    assert failure.value.code == "unknown_kind"


@needs_font
def test_a_clean_page_is_read_and_a_strict_threshold_sends_it_to_review():
    page = samples.sample("licence", 11, lang="zh")
    result, got = run(page.image, "licence")
    assert result["kind"] == "licence"
    assert result["fields"] == page.fields
    assert min(result["confidences"].values()) >= ocr_documents.DEFAULT_THRESHOLD
    assert got.logs and "licence read" in got.logs[0][1]

    with pytest.raises(BusinessFailure) as failure:
        run(page.image, "licence", {"threshold": 0.9999})
    assert failure.value.code == "low_confidence"
    details = failure.value.details
    assert details["fields"] == page.fields  # the reviewer sees what was read
    assert details["low"] and set(details["low"]) <= set(page.fields)
    assert all(details["confidences"][name] < 0.9999 for name in details["low"])


@needs_font
def test_a_heavily_blurred_page_goes_to_review():
    page = samples.sample("coc", 3, lang="zh", blur=3.0)
    with pytest.raises(BusinessFailure) as failure:
        run(page.image, "coc")
    assert failure.value.code in ("low_confidence", "unreadable")
    if failure.value.code == "low_confidence":
        wrong = [n for n, v in failure.value.details["fields"].items() if v != page.fields[n]]
        assert set(wrong) <= set(failure.value.details["low"])  # every misread is flagged


@needs_font
def test_field_accuracy_on_24_generated_pages():
    got = measure_ocr(24, seed=5)
    assert got["field_accuracy"] >= 0.95, got["misses"]
    assert set(got["by_kind"]) == {"coc", "invoice", "licence"}
    assert got["review_share"] < 0.5
    # a wrong field on a page nobody reviews is the costly error
    assert got["wrong_accepted_fields"] <= 1, got["misses"]
