"""What counts as a face encoding (backend/branch/face/vectors.py), the box every stored one
goes through, and the matcher's defence against a bad stored row."""

from __future__ import annotations

import numpy as np
import pytest

from backend.branch.face.crypto import EncodingBox
from backend.branch.face.gallery import Gallery
from backend.branch.face.vectors import InvalidEncoding, check, usable_rows

KEY = "k" * 40


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.124, 128)  # norm ~1.4, like dlib's


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([1e308] * 128, "component_out_of_range"),
        ([float("nan")] * 128, "not_finite"),
        ([0.1] * 127 + [float("-inf")], "not_finite"),
        ([10**400] + [0] * 127, "not_finite"),
        ([0.0] * 128, "norm_out_of_range"),
        ([0.3] * 128, "norm_out_of_range"),
        ([0.02] * 128, "norm_out_of_range"),
        ([1.5] + [0.0] * 127, "component_out_of_range"),
        ([0.1] * 129, "wrong_length"),
        (np.zeros((2, 64)), "wrong_length"),
        ([None] * 128, "not_numbers"),
        ([False] * 128, "not_numbers"),
        (np.array(["a"] * 128), "not_numbers"),
        ({"a": 1}, "not_a_list"),
        ("0.1", "not_a_list"),
        (None, "not_a_list"),
    ],
)
def test_what_is_not_a_face_encoding(value, reason):
    with pytest.raises(InvalidEncoding) as err:
        check(value)
    assert err.value.reason == reason
    assert "1e+308" not in str(err.value)  # the rule, never a value


def test_face_shaped_encodings_pass():
    for seed in range(20):
        vector = check(face(seed).tolist())
        assert vector.dtype == np.float64 and vector.shape == (128,)
    assert check(np.full(128, 0.09)).shape == (128,)  # norm 1.02, the simulator's scale
    mask = usable_rows(np.stack([face(1), np.full(128, 1e308), np.full(128, np.nan), face(2)]))
    assert mask.tolist() == [True, False, False, True]


def test_the_box_refuses_to_store_what_is_not_a_face():
    box = EncodingBox(KEY)
    with pytest.raises(InvalidEncoding):
        box.encrypt(np.full(128, 1e308))
    with pytest.raises(ValueError):  # InvalidEncoding is a ValueError, as before
        box.encrypt(np.zeros(128))
    assert np.allclose(box.decrypt(box.encrypt(face(3))), face(3))


def test_a_bad_row_never_poisons_the_matcher():
    rows = np.stack([face(1), np.full(128, 1e308), np.full(128, np.nan), face(2)])
    gallery = Gallery(np.array([1, 2, 3, 4]), rows, "v1", encoding_ids=np.array([10, 20, 30, 40]))
    assert gallery.user_ids.tolist() == [1, 4]
    assert sorted(gallery.skipped_ids.tolist()) == [20, 30]
    assert sorted(gallery.known_ids().tolist()) == [10, 20, 30, 40]
    match = gallery.best(face(2) + 0.005)
    assert match is not None and match.user_id == 4 and np.isfinite(match.distance)
    # a query that is not a face matches nobody (no NaN distance)
    assert gallery.best(np.full(128, 1e308)) is None
    assert gallery.best(np.full(128, np.nan)) is None
    # an update keeps the skipped ids still stored, and skips new bad rows too
    updated = gallery.updated(
        np.array([10, 20, 40]),
        np.array([50, 60]),
        np.array([5, 6]),
        np.stack([np.full(128, np.inf), face(5)]),
        "v2",
    )
    assert sorted(updated.user_ids.tolist()) == [1, 4, 6]
    assert sorted(updated.skipped_ids.tolist()) == [20, 50]
    assert updated.best(face(5)).user_id == 6
    assert updated.best(face(1)).user_id == 1
