"""Check digits of the codes the OCR robot reads, and the repair of OCR's look-alike letters.

- VIN (ISO 3779, the North-American check digit China's GB 16735 also uses): 17 characters of
  ``0-9A-Z`` without ``I O Q``; position 9 is ``sum(value * weight) mod 11`` (10 is ``X``).
- Unified social credit code (GB 32100-2015): 18 characters of ``0-9`` and
  ``ABCDEFGHJKLMNPQRTUWXY``; the last is ``31 - sum(value * 3^i mod 31) mod 31``.
- Organisation code (GB 11714, positions 9-17 of a credit code): 8 characters and a check
  character, ``11 - sum mod 11`` (10 is ``X``, 11 is ``0``).

``repair_*`` first maps the letters a code's alphabet cannot hold (``O`` in a VIN is ``0``),
then, if the check digit still fails, tries every single swap of a look-alike pair
(``8``/``B``, ``0``/``D``…) and keeps the repair only when exactly one candidate validates:
the validator decides, never a guess between two valid codes. Such a repair can still be
wrong (a misread that is no look-alike, fixed by a swap that happens to validate: about one
chance in 11 for a VIN, 31 for a credit code, per candidate), so ``repair_*`` says it swapped
and the reader caps that field's confidence under the review threshold: a person confirms.
"""

from __future__ import annotations

VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# letters OCR confuses with a digit or another letter, both ways
LOOKALIKES = (
    ("0", "D"),
    ("0", "Q"),
    ("1", "L"),
    ("1", "T"),
    ("2", "Z"),
    ("5", "S"),
    ("6", "G"),
    ("8", "B"),
    ("4", "A"),
    ("C", "G"),
    ("E", "F"),
    ("P", "R"),
    ("V", "Y"),
    ("W", "V"),
)
# the letters an alphabet lacks, mapped to the digit they are read for
_VIN_FORCED = {"O": "0", "Q": "0", "I": "1"}
_USCC_FORCED = {"O": "0", "I": "1", "Z": "2", "S": "5", "V": "Y"}


def vin_check_digit(vin17: str) -> str:
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin17, _VIN_WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def vin_valid(vin: str) -> bool:
    if len(vin) != 17 or any(c not in VIN_ALPHABET for c in vin):
        return False
    return vin[8] == vin_check_digit(vin)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_valid(code: str) -> bool:
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    return code[17] == uscc_check_char(code[:17])


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    rest = 11 - total % 11
    return {10: "X", 11: "0"}.get(rest, str(rest))


def _compact(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _repair(text: str, forced: dict[str, str], valid) -> tuple[str, bool, bool]:
    code = "".join(forced.get(c, c) for c in _compact(text))
    if valid(code):
        return code, True, False
    found = set()
    for i, ch in enumerate(code):
        for a, b in LOOKALIKES:
            other = b if ch == a else a if ch == b else None
            if other is not None:
                candidate = code[:i] + other + code[i + 1 :]
                if valid(candidate):
                    found.add(candidate)
    if len(found) == 1:
        return found.pop(), True, True
    return code, False, False


def repair_vin(text: str) -> tuple[str, bool, bool]:
    """The VIN OCR read as ``text``, whether its check digit holds, and whether a look-alike
    was swapped to make it hold."""
    return _repair(text, _VIN_FORCED, vin_valid)


def repair_uscc(text: str) -> tuple[str, bool, bool]:
    """The credit code OCR read as ``text``, whether its check character holds, and whether a
    look-alike was swapped to make it hold."""
    return _repair(text, _USCC_FORCED, uscc_valid)
