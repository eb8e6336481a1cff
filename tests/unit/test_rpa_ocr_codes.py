"""Check digits of VINs (ISO 3779) and unified social credit codes (GB 32100-2015), on
published codes, and the repair of OCR's look-alike characters."""

from __future__ import annotations

import pytest

from backend.rpa.ocr import codes

# Wikipedia's VIN example, and two VINs printed in many decoders' documentation
GOOD_VINS = ("1M8GDM9AXKP042788", "1HGCM82633A004352", "5GZCZ43D13S812715")
# GB 32100-2015's own example; Tencent Technology (Shenzhen); Huawei Technologies
GOOD_USCCS = ("91350100M000100Y43", "9144030071526726XG", "914403001922038216")


@pytest.mark.parametrize("vin", GOOD_VINS)
def test_published_vins_are_valid(vin):
    assert codes.vin_valid(vin)
    assert codes.vin_check_digit(vin[:8] + "0" + vin[9:]) == vin[8]


@pytest.mark.parametrize("vin", GOOD_VINS)
def test_any_one_changed_character_of_a_vin_is_caught(vin):
    caught = 0
    changes = 0
    for i in range(17):
        if i == 8:
            continue
        for c in "0123456789ABCDEFGHJKLMNPRSTUVWXYZ":
            if c != vin[i]:
                changes += 1
                caught += not codes.vin_valid(vin[:i] + c + vin[i + 1 :])
    # the mod-11 digit misses a change only where transliterated values collide (A and J…)
    assert caught / changes > 0.85


def test_vin_shape_is_checked():
    assert not codes.vin_valid("1M8GDM9AXKP04278")  # 16 characters
    assert not codes.vin_valid("1M8GDM9AXKP0427880")
    assert not codes.vin_valid("1M8GDM9AXKPO42788")  # the letter O is never in a VIN
    assert not codes.vin_valid("1m8gdm9axkp042788")
    assert codes.vin_valid("11111111111111111")


@pytest.mark.parametrize("code", GOOD_USCCS)
def test_published_credit_codes_are_valid(code):
    assert codes.uscc_valid(code)
    assert codes.uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("code", GOOD_USCCS)
def test_every_one_changed_character_of_a_credit_code_is_caught(code):
    for i in range(17):
        for c in codes.USCC_ALPHABET:
            if c != code[i]:
                assert not codes.uscc_valid(code[:i] + c + code[i + 1 :])


def test_credit_code_shape_is_checked():
    assert not codes.uscc_valid("91350100M000100Y4")
    assert not codes.uscc_valid("91350100M000I00Y43")  # I is not in the alphabet
    assert not codes.uscc_valid("")


def test_organisation_code_check_char():
    # GB 11714's example D2143569-X; positions 9-17 of the published credit codes
    assert codes.org_code_check_char("D2143569") == "X"
    assert codes.org_code_check_char("71526726") == "X"
    assert codes.org_code_check_char("19220382") == "1"


def test_letters_a_code_cannot_hold_are_read_as_digits():
    # no swap: the alphabet decides, the code is as sure as the line
    assert codes.repair_vin("1M8GDM9AXKPO42788") == ("1M8GDM9AXKP042788", True, False)
    assert codes.repair_vin(" 1m8g dm9a xkp0 42788 ") == ("1M8GDM9AXKP042788", True, False)
    assert codes.repair_uscc("9I35OIOOM0001OOY43") == ("91350100M000100Y43", True, False)
    assert codes.repair_uscc("9144O3OO7I5267Z6XG") == ("9144030071526726XG", True, False)
    assert codes.repair_uscc("91350100M000100V43") == ("91350100M000100Y43", True, False)


def test_a_look_alike_is_repaired_only_when_one_candidate_validates():
    # 8 read as B: the one swap that validates is taken
    assert codes.repair_vin("1MBGDM9AXKP042788") == ("1M8GDM9AXKP042788", True, True)
    assert codes.repair_uscc("91440300192203B216") == ("914403001922038216", True, True)
    # a digit plainly wrong (no look-alike explains it): left as read, not valid
    assert codes.repair_vin("1M8GDM9AXKP042789") == ("1M8GDM9AXKP042789", False, False)


def _valid_swaps(code, valid):
    out = set()
    for i, ch in enumerate(code):
        for a, b in codes.LOOKALIKES:
            other = b if ch == a else a if ch == b else None
            if other is not None and valid(code[:i] + other + code[i + 1 :]):
                out.add(code[:i] + other + code[i + 1 :])
    return out


def test_two_valid_repairs_are_no_repair():
    read = "1HGCMB2633A004352"  # 8 read as B, but another look-alike swap validates too
    assert len(_valid_swaps(read, codes.vin_valid)) >= 2
    assert codes.repair_vin(read) == (read, False, False)


def test_a_repair_is_either_the_true_code_or_refused():
    for code in GOOD_USCCS + GOOD_VINS:
        valid, repair = (
            (codes.uscc_valid, codes.repair_uscc)
            if len(code) == 18
            else (codes.vin_valid, codes.repair_vin)
        )
        for read in _valid_swaps(code, lambda _c: True):
            fixed, ok, swapped = repair(read)
            if valid(read):
                assert ok and fixed == read and not swapped
            elif ok:  # by the alphabet (V is Y in a credit code) or the one valid swap
                assert fixed == code
                assert _valid_swaps(read, valid) == {code}
