"""backend.platform.strict_json: one error code per class of bad JSON."""

import pytest

from backend.platform import strict_json
from backend.platform.errors import ValidationFailed


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"a":1,"a":1}', "duplicate_json_key"),
        ('[{"x":{"y":1,"y":2}}]', "duplicate_json_key"),
        ("[" * 33 + "]" * 33, "json_too_deep"),
        ('{"a":' * 33 + "1" + "}" * 33, "json_too_deep"),
        ("[" * 5000 + "]" * 5000, "json_too_deep"),
        ('"\\ud800"', "invalid_unicode"),
        ('"\\uDC00x"', "invalid_unicode"),
        ('{"\\ud800":1}', "invalid_unicode"),
        ('"a\\u0000"', "invalid_unicode"),
        ("NaN", "non_finite_number"),
        ("[-Infinity]", "non_finite_number"),
        ("1e400", "non_finite_number"),
        (str(2**63), "number_out_of_range"),
        (str(-(2**63) - 1), "number_out_of_range"),
        ("9.3e18", "number_out_of_range"),
        ("1" * 5000, "number_out_of_range"),
        (b"\xff", "malformed_json"),
        (b'"\xed\xa0\x80"', "malformed_json"),  # a surrogate encoded raw is not UTF-8
        ("{", "malformed_json"),
        ("", "malformed_json"),
    ],
)
def test_bad_json_is_refused_with_its_code(text, code):
    with pytest.raises(ValidationFailed) as info:
        strict_json.loads(text)
    assert info.value.code == code
    assert info.value.kind == "validation"
    assert info.value.details == {"json": [info.value.message]}


def test_good_json_passes_unchanged():
    assert strict_json.loads('{"a":[1,2.5,"\\u00e9\\ud83d\\ude00",null,true]}') == {
        "a": [1, 2.5, "é😀", None, True]
    }
    assert strict_json.loads("[" * 32 + "]" * 32)
    # brackets inside strings are not nesting
    assert strict_json.loads('{"s":"' + "[" * 100 + '"}') == {"s": "[" * 100}
    # an escaped backslash before "ud800" is not a surrogate
    assert strict_json.loads('"\\\\ud800"') == "\\ud800"
    assert strict_json.loads(f"[{2**63 - 1},{-(2**63)}]") == [2**63 - 1, -(2**63)]
