"""``finedge bench face``: the door camera's two costs, each against a baseline timed in the
same run.

1. 1:N identification per query over N enrolled encodings (10,000 and 100,000; ``quick``:
   1,000 and 10,000): ``Gallery.best`` (one matrix-vector product on a prepared (N, 128)
   matrix and its squared norms, then argmin) against
   - a plain Python loop over the encodings (the code one writes without numpy), and
   - ``face_recognition.compare_faces`` given the encodings as one ndarray (the library's
     best case; it returns N booleans as a Python list and still needs a distance for the
     best match).
   Encodings are synthetic but face-shaped (128 values ~ N(0, 0.09), like dlib's); each query
   is an enrolled encoding plus noise, so there is a match to find, and the benchmark checks
   that every method finds it.
2. Detection plus encoding per 640-pixel frame: ``detect.encode_largest`` (HOG with scores,
   the largest confident face, encode only it) against the bare library call
   ``face_recognition.face_encodings(image)`` (detect, encode every face). Frames: scikit-image's
   astronaut scaled to 640 px and opencv-doc's basketball1.png (640x480), when installed.

``ratio`` is the baseline's time divided by ours (higher is better). Options: ``quick``,
``sizes`` (list of N), ``queries`` (numpy queries per size, default 200), ``repeats`` (frames
timed per method, default 9; ``quick``: 1).
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FRAMES = {
    "astronaut": None,  # found through the installed scikit-image, without importing it
    "basketball": Path("/usr/share/doc/opencv-doc/examples/data/basketball1.png"),
}


def _row(metric, value, unit, baseline, baseline_value, params) -> dict[str, Any]:
    return {
        "bench": "face",
        "metric": metric,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 4),
        "ratio": round(baseline_value / value, 2) if value else None,
        "params": params,
    }


def _python_loop_best(enrolled: list[list[float]], query: list[float]) -> tuple[int, float]:
    best_i, best_d = -1, math.inf
    for i, enc in enumerate(enrolled):
        total = 0.0
        for a, b in zip(enc, query, strict=True):
            diff = a - b
            total += diff * diff
        if total < best_d:
            best_i, best_d = i, total
    return best_i, math.sqrt(best_d)


def _timed(func, repeats: int) -> float:
    """Median seconds per call."""
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        func()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def identification(sizes: list[int], queries: int, seed: int = 5) -> list[dict]:
    import face_recognition

    from backend.branch.face.gallery import Gallery

    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        encodings = rng.normal(0.0, 0.09, size=(n, 128))
        targets = rng.integers(0, n, size=queries)
        probes = encodings[targets] + rng.normal(0.0, 0.015, size=(queries, 128))
        gallery = Gallery(np.arange(n), encodings)
        start = time.perf_counter()
        found = [gallery.best(q) for q in probes]
        ours = (time.perf_counter() - start) / queries
        assert all(m is not None and m.user_id == t for m, t in zip(found, targets, strict=True))

        loop_queries = max(2, min(queries, 200_000 // n))
        as_lists = encodings.tolist()
        start = time.perf_counter()
        for q, t in zip(probes[:loop_queries], targets[:loop_queries], strict=True):
            assert _python_loop_best(as_lists, q.tolist())[0] == t
        loop = (time.perf_counter() - start) / loop_queries

        lib_queries = max(5, min(queries, 2_000_000 // n))
        start = time.perf_counter()
        for q, t in zip(probes[:lib_queries], targets[:lib_queries], strict=True):
            assert face_recognition.compare_faces(encodings, q, tolerance=0.6)[t]
        library = (time.perf_counter() - start) / lib_queries

        params = {"enrolled": n, "queries": queries, "dim": 128}
        rows.append(
            _row(
                "identify_ms_per_query",
                ours * 1e3,
                "ms",
                "plain python loop",
                loop * 1e3,
                {**params, "baseline_queries": loop_queries},
            )
        )
        rows.append(
            _row(
                "identify_ms_per_query",
                ours * 1e3,
                "ms",
                "face_recognition.compare_faces",
                library * 1e3,
                {**params, "baseline_queries": lib_queries},
            )
        )
    return rows


def _frame_path(name: str) -> Path | None:
    if name == "astronaut":
        spec = importlib.util.find_spec("skimage")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
        return path if path.exists() else None
    path = FRAMES[name]
    return path if path is not None and path.exists() else None


def detection(repeats: int) -> list[dict]:
    import face_recognition
    from PIL import Image

    from backend.branch.face import detect

    rows = []
    for name in FRAMES:
        path = _frame_path(name)
        if path is None:
            print(f"bench face: frame {name} not installed; skipped", file=sys.stderr)
            continue
        with Image.open(path) as img:
            img = img.convert("RGB")
            if img.width != 640:
                img = img.resize((640, round(img.height * 640 / img.width)))
            frame = np.asarray(img)
        detect.encode_largest(frame)  # warm up: models loaded, caches filled
        face_recognition.face_encodings(frame)
        ours, bare = [], []
        for _ in range(repeats):  # alternate, so a noisy machine slows both alike
            ours.append(_timed(lambda f=frame: detect.encode_largest(f), 1))
            bare.append(_timed(lambda f=frame: face_recognition.face_encodings(f), 1))
        rows.append(
            _row(
                "detect_encode_ms_per_frame",
                statistics.median(ours) * 1e3,
                "ms",
                "face_recognition.face_encodings (detect + encode all)",
                statistics.median(bare) * 1e3,
                {
                    "frame": name,
                    "size": f"{frame.shape[1]}x{frame.shape[0]}",
                    "repeats": repeats,
                    "faces_found_by_library": len(face_recognition.face_locations(frame)),
                },
            )
        )
    return rows


def run(options: dict | None = None) -> list[dict]:
    options = options or {}
    quick = bool(options.get("quick"))
    sizes = options.get("sizes") or ([1_000, 10_000] if quick else [10_000, 100_000])
    queries = int(options.get("queries") or (50 if quick else 200))
    repeats = int(options.get("repeats") or (1 if quick else 9))
    return identification(sizes, queries) + detection(repeats)
