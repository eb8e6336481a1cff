"""The OCR robot on generated pages (``backend.rpa.ocr.samples``): ``measure_ocr(pages, seed)``
draws ``pages`` documents (the three kinds in turn, Chinese and English labels alternating,
random valid values, light noise), then runs each through the robot's own ``process`` (the
engine, field extraction and the review decision at the default threshold) and compares every
field with the truth, exactly (a date is the same ISO date, a sum the same Decimal string, a
name the same characters and spaces).

Returned: ``model_load_s`` (building the engine, once per process), ``s_per_page`` and
``cpu_s_per_page`` (after the load; drawing the pages is not counted), ``field_accuracy``
overall and ``by_kind``, ``review_share`` (pages sent to a person: a field under the
threshold, or unreadable), and ``wrong_accepted_fields`` (fields wrong on pages NOT sent to
review: the errors nobody looks at; the aim is 0). ``finedge bench rpa`` reports it; its
tests run 24 pages (tests/unit/test_rpa_ocr_accuracy.py).
"""

from __future__ import annotations

import time
from typing import Any


def measure_ocr(pages: int, seed: int, threshold: float | None = None) -> dict[str, Any]:
    from backend.rpa.ocr import engine, samples
    from backend.rpa.robot import BusinessFailure
    from backend.rpa.testing import item_context
    from robots import ocr_documents

    threshold = threshold or ocr_documents.DEFAULT_THRESHOLD
    docs = [
        samples.sample(samples.KINDS[i % 3], seed * 1000 + i, lang=samples.LANGS[(i // 3) % 2])
        for i in range(pages)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    engine.engine()
    load_s = time.perf_counter() - started

    right: dict[str, int] = {kind: 0 for kind in samples.KINDS}
    total: dict[str, int] = {kind: 0 for kind in samples.KINDS}
    reviewed = wrong_accepted = 0
    misses: list[dict[str, Any]] = []
    started, cpu = time.perf_counter(), time.process_time()
    for i, doc in enumerate(docs):
        # the robot uses neither the session nor the config
        ctx, _ = item_context(
            None, None, item_id=i + 1, params={"threshold": threshold}, files={1: doc.image}
        )
        try:
            got = ocr_documents.process(ctx, {"kind": doc.kind, "artefact_id": 1})["fields"]
            sent = False
        except BusinessFailure as failure:
            got = failure.details.get("fields", {})
            sent = True
        reviewed += sent
        for name, truth in doc.fields.items():
            total[doc.kind] += 1
            if got.get(name) == truth:
                right[doc.kind] += 1
            else:
                wrong_accepted += not sent
                misses.append(
                    {
                        "kind": doc.kind,
                        "lang": doc.lang,
                        "field": name,
                        "truth": truth,
                        "read": got.get(name),
                        "reviewed": sent,
                    }
                )
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    n = max(pages, 1)
    return {
        "pages": pages,
        "seed": seed,
        "threshold": threshold,
        "model_load_s": round(load_s, 3),
        "s_per_page": round(elapsed / n, 3),
        "cpu_s_per_page": round(cpu_s / n, 3),
        "field_accuracy": round(sum(right.values()) / max(sum(total.values()), 1), 4),
        "by_kind": {
            kind: round(right[kind] / total[kind], 4) for kind in samples.KINDS if total[kind]
        },
        "review_share": round(reviewed / n, 4),
        "wrong_accepted_fields": wrong_accepted,
        "misses": misses,
    }


if __name__ == "__main__":  # python -m bench.rpa_ocr [pages] [seed]
    import json
    import sys

    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(measure_ocr(*(args + [60, 1][len(args) :])), ensure_ascii=False, indent=1))
