"""Entity keys: the 18-character unified social credit code (GB 32100-2015) and the
normalised enterprise name used to resolve records that carry only a name.

The code's last character is a check character over the first 17 (weights 3^i mod 31 on the
31-character alphabet without I, O, Z, S, V), so that a mistyped code is refused at the feed
instead of creating a phantom enterprise.  Characters 9-17 are the organisation code
(GB 11714) with its own check digit; synthetic codes are generated with both checks.

Name normalisation is deliberately conservative: width (full-width brackets, digits and
letters), case, whitespace and punctuation are folded, legal forms are not, because
"华鑫科技有限公司" and "华鑫科技股份有限公司" may well be two different companies."""

from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(raw: object) -> str | None:
    """Upper-case, width-folded, stripped; None for anything that is not a string."""
    if not isinstance(raw, str):
        return None
    code = unicodedata.normalize("NFKC", raw).strip().upper().replace(" ", "")
    return code or None


def is_valid_credit_code(code: str | None) -> bool:
    if not code or len(code) != 18 or any(ch not in _VALUE for ch in code):
        return False
    return check_character(code[:17]) == code[17]


def _org_check(first8: str) -> str:
    total = sum(
        (int(ch) if ch.isdigit() else ord(ch) - 55) * w
        for ch, w in zip(first8, _ORG_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def make_credit_code(seq: int, *, region: str = "310000", kind: str = "91") -> str:
    """A valid code for synthetic enterprise number ``seq`` (distinct seq, distinct code)."""
    body = ""
    n = seq
    for _ in range(8):
        n, digit = divmod(n, len(_ORG_ALPHABET))
        body = _ORG_ALPHABET[digit] + body
    if n:
        raise ValueError("seq too large for a credit code")
    first17 = f"{kind}{region}{body}{_org_check(body)}"
    return first17 + check_character(first17)


def normalize_name(name: object) -> str:
    """Width, case, whitespace and punctuation folded; '' for non-strings."""
    if not isinstance(name, str):
        return ""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(
        ch for ch in folded if not unicodedata.category(ch).startswith(("P", "S", "Z", "C"))
    )
