from decimal import Decimal

import pytest

from backend.platform.errors import ValidationFailed
from backend.platform.money import (
    MAX_AMOUNT,
    format_money,
    from_fen,
    parse_money,
    quantize,
    to_fen,
)


@pytest.mark.parametrize("raw", ["100", "100.5", "100.50", 100, Decimal("0.01")])
def test_parse_good_amounts(raw):
    assert parse_money(raw) == Decimal(str(raw)).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    "raw", ["1.001", "abc", "", "NaN", "Infinity", "1e400", "-sNaN", 1.5, True, None]
)
def test_parse_refuses_bad_amounts(raw):
    with pytest.raises(ValidationFailed) as info:
        parse_money(raw)
    assert info.value.code == "invalid_amount"


@pytest.mark.parametrize(
    "raw",
    [
        "１００.００",  # fullwidth digits: Decimal() reads them
        "٣.٠٠",  # Arabic-Indic digits
        "१००",  # Devanagari digits
        "1_000.00",  # Python's digit separator
        "+1.00",
        " 1.00",
        "1.00 ",
        "1.00\n",
        "1e2",
        "1E2",
        "1.",
        ".5",
        "0x10",
        "1,000.00",
        "--1",
        "9999999999999.99\x00",
        "10000000000000.00",  # over MAX_AMOUNT
        "-10000000000000.00",
        10**14,
        Decimal("1E+20"),
        Decimal("1E+999999"),
        Decimal("NaN"),
        Decimal("Infinity"),
        "1" * 5000,
        b"1.00",
        [1],
    ],
)
def test_only_ascii_decimal_strings_within_the_bound(raw):
    with pytest.raises(ValidationFailed) as info:
        parse_money(raw)
    assert info.value.code == "invalid_amount"
    assert info.value.details == {"amount": [info.value.details["amount"][0]]}


def test_the_bound_itself_and_negative_zero():
    assert parse_money("9999999999999.99") == MAX_AMOUNT
    assert parse_money("-9999999999999.99") == -MAX_AMOUNT
    assert parse_money("-0") == Decimal("0.00")
    assert parse_money("007.5") == Decimal("7.50")


@pytest.mark.parametrize("raw", ["0", "-1.00", "0.00"])
def test_positive_required(raw):
    parse_money(raw)
    with pytest.raises(ValidationFailed):
        parse_money(raw, positive=True)


def test_format_and_fen_round_trip():
    assert format_money(Decimal("1250000")) == "1250000.00"
    assert to_fen(Decimal("12.34")) == 1234
    assert from_fen(1234) == Decimal("12.34")
    assert quantize(Decimal("0.125")) == Decimal("0.12")  # banker's rounding
