"""Fields from OCR lines, for the three documents the OCR robot reads.

The lines are grouped into rows (boxes whose vertical centres sit within half a line height
of each other, left to right), each row is normalised (NFKC: full-width colons, brackets and
digits become ASCII; spaces collapsed) and matched against the kind's labels, Chinese or
English, ignoring spaces and case (rapidocr drops and adds spaces). The text after the label
(or, if none, the next unlabelled row) is the raw value, which the field's parser normalises
and its validator checks. A field's confidence is its row's (the lowest of the row's boxes),
0 when the validator fails or the field is missing, at most ``REPAIRED_CONFIDENCE`` for a code
that validates only after a look-alike swap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from backend.rpa.ocr import codes
from backend.rpa.ocr.engine import OcrLine

TITLES = {
    "coc": {"zh": "机动车整车出厂合格证", "en": "Certificate of Conformity"},
    "invoice": {"zh": "增值税专用发票", "en": "VAT Special Invoice"},
    "licence": {"zh": "营业执照", "en": "Business Licence"},
}

# kind -> field -> language -> labels (the first is printed by samples.py)
LABELS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "coc": {
        "certificate_no": {"zh": ("合格证编号",), "en": ("Certificate No.", "Cert. No.")},
        "vin": {"zh": ("车辆识别代号", "车架号"), "en": ("VIN", "Vehicle Identification No.")},
        "brand": {"zh": ("车辆品牌",), "en": ("Brand", "Make")},
        "model": {"zh": ("车辆型号",), "en": ("Model",)},
        "engine_no": {"zh": ("发动机号",), "en": ("Engine No.",)},
        "colour": {"zh": ("车身颜色",), "en": ("Colour", "Color")},
        "manufacture_date": {"zh": ("车辆制造日期", "制造日期"), "en": ("Date of Manufacture",)},
    },
    "invoice": {
        "invoice_code": {"zh": ("发票代码",), "en": ("Invoice Code",)},
        "invoice_no": {"zh": ("发票号码",), "en": ("Invoice No.",)},
        "date": {"zh": ("开票日期",), "en": ("Date of Issue", "Invoice Date")},
        "buyer": {"zh": ("购买方名称",), "en": ("Buyer",)},
        "buyer_tax_id": {"zh": ("购买方纳税人识别号",), "en": ("Buyer Tax ID",)},
        "seller": {"zh": ("销售方名称",), "en": ("Seller",)},
        "amount": {"zh": ("金额",), "en": ("Amount (excl. tax)", "Amount")},
        "tax": {"zh": ("税额",), "en": ("Tax",)},
        "total": {"zh": ("价税合计",), "en": ("Total (incl. tax)", "Total")},
    },
    "licence": {
        "credit_code": {"zh": ("统一社会信用代码",), "en": ("Unified Social Credit Code",)},
        "name": {"zh": ("名称",), "en": ("Name",)},
        "legal_representative": {"zh": ("法定代表人",), "en": ("Legal Representative",)},
        "registered_capital": {"zh": ("注册资本",), "en": ("Registered Capital",)},
        "established": {"zh": ("成立日期",), "en": ("Date of Establishment",)},
        "address": {"zh": ("住所",), "en": ("Address", "Domicile")},
    },
}
KINDS = tuple(LABELS)
# the confidence of a code valid only after a look-alike swap: under any sensible threshold,
# so a person confirms the repair (codes.py)
REPAIRED_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Row:
    text: str
    confidence: float


@dataclass(frozen=True)
class Field:
    name: str
    value: str | None  # normalised: dates ISO, money a Decimal's string, codes upper-case
    confidence: float
    raw: str = ""  # the row's text after the label, as read
    valid: bool = False


@dataclass(frozen=True)
class Extraction:
    kind: str
    fields: dict[str, Field]

    def values(self) -> dict[str, str | None]:
        return {name: f.value for name, f in self.fields.items()}

    def confidences(self) -> dict[str, float]:
        return {name: round(f.confidence, 4) for name, f in self.fields.items()}

    def low(self, threshold: float) -> list[str]:
        return [name for name, f in self.fields.items() if f.confidence < threshold]


# rows --------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC (full-width to ASCII), one space between words, none next to a CJK character."""
    text = unicodedata.normalize("NFKC", text).replace("\u3000", " ")
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", text)


def rows(lines: Sequence[OcrLine]) -> list[Row]:
    """The lines grouped into rows, top to bottom, each row's boxes left to right."""
    if not lines:
        return []
    heights = sorted(line.bottom - line.top for line in lines)
    half = heights[len(heights) // 2] / 2
    groups: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda line: (line.top + line.bottom) / 2):
        centre = (line.top + line.bottom) / 2
        if groups:
            last = groups[-1]
            last_centre = sum((x.top + x.bottom) / 2 for x in last) / len(last)
            if abs(centre - last_centre) <= half:
                last.append(line)
                continue
        groups.append([line])
    out = []
    for group in groups:
        group.sort(key=lambda line: line.left)
        text = normalise(" ".join(line.text for line in group))
        out.append(Row(text=text, confidence=min(line.confidence for line in group)))
    return out


def _label_pattern(label: str) -> re.Pattern[str]:
    chars = [re.escape(c) for c in normalise(label) if not c.isspace()]
    return re.compile(r"^\s*" + r"\s*".join(chars) + r"\s*[:;]?\s*", re.IGNORECASE)


_PATTERNS = {
    kind: [
        (name, _label_pattern(label))
        for name, by_lang in fields.items()
        for labels in by_lang.values()
        for label in labels
    ]
    for kind, fields in LABELS.items()
}


def _match(kind: str, text: str) -> tuple[str, str] | None:
    """The field whose label starts the row (the longest label wins) and the rest."""
    best = None
    for name, pattern in _PATTERNS[kind]:
        found = pattern.match(text)
        if found and (best is None or found.end() > best[1]):
            best = (name, found.end())
    if best is None:
        return None
    return best[0], text[best[1] :].strip()


# field parsers: raw text -> (value, valid) ------------------------------------------------

_DIGITISH = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1"})


def _text(raw: str) -> tuple[str | None, bool]:
    """Free text. rapidocr often drops the spaces of Latin text: one space goes back after a
    comma or full stop that runs into a word (``Co.,Ltd.`` is ``Co., Ltd.``; none between
    digits: ``1,000.50``) and between a lower-case and an upper-case letter (``WuhanAntai``),
    which splits the rare name written that way (``McDonald``): its confidence stays, and
    the reviewer sees the raw text."""
    value = re.sub(r"(?<!\d)([,.])(?=[A-Za-z0-9])|(?<=\d)([,.])(?=[A-Za-z])", r"\1\2 ", raw)
    if value.isascii():  # words OCR ran together: ``WuhanAntai`` is ``Wuhan Antai``
        value = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=\d)(?=[A-Z][a-z])", " ", value)
    # a speck read as a mark before or after the text; a full stop ends only an abbreviation
    value = value.strip(" :;,'`").lstrip(".").strip()
    while value.endswith(".") and not re.search(r"\b(?:Ltd|Co|Inc|Corp|No|St|Rd|Ave)\.$", value):
        value = value[:-1].rstrip(" :;,'`")
    return (value or None), bool(value)


def _key(raw: str) -> tuple[str | None, bool]:
    """A brand or a colour, matched against a list downstream: upper-case, no spaces
    (``GREAT WALL`` and OCR's ``GREATWALL`` are one brand)."""
    value, ok = _text(raw)
    value = re.sub(r"\s", "", value).upper() if value else None
    return value, ok and bool(value)


def _code(raw: str) -> tuple[str | None, bool]:
    value = re.sub(r"[^0-9A-Z-]", "", raw.upper())
    return (value or None), len(value) >= 4


def _certificate_no(raw: str) -> tuple[str | None, bool]:
    """A maker's three letters and 11 or 12 digits (``WAC051800123456``); after the letters,
    ``O`` and ``I`` are digits. The shape is the whole check: a number has no check digit."""
    value = re.sub(r"[^0-9A-Z]", "", raw.upper())
    head = re.match(r"[A-Z]{3}", value)
    if head:
        value = head.group() + value[head.end() :].translate(_DIGITISH)
    return (value or None), bool(re.fullmatch(r"[A-Z]{3}[0-9]{11,12}", value))


def _digits(lengths: tuple[int, ...]) -> Callable[[str], tuple[str | None, bool]]:
    def parse(raw: str) -> tuple[str | None, bool]:
        value = re.sub(r"\s", "", raw).translate(_DIGITISH)
        value = re.sub(r"[^0-9]", "", value) if re.fullmatch(r"[0-9.,-]+", value) else value
        return (value or None), value.isdigit() and len(value) in lengths

    return parse


class Repaired(str):
    """A code valid only after a look-alike swap (``codes``): its confidence is capped."""


def _repaired(value: str, ok: bool, swapped: bool) -> tuple[str | None, bool]:
    return (Repaired(value) if swapped else value or None), ok


def _vin(raw: str) -> tuple[str | None, bool]:
    return _repaired(*codes.repair_vin(raw))


def _uscc(raw: str) -> tuple[str | None, bool]:
    return _repaired(*codes.repair_uscc(raw))


def _date(raw: str) -> tuple[str | None, bool]:
    found = re.search(
        r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})", raw.translate(_DIGITISH)
    )
    if not found:
        return (raw.strip() or None), False
    try:
        value = date(*(int(g) for g in found.groups()))
    except ValueError:
        return raw.strip() or None, False
    return value.isoformat(), date(1949, 10, 1) <= value <= date(2100, 1, 1)


_GROUPED = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{2}))?")


def _amount(raw: str) -> Decimal | None:
    """``¥12,345.67`` (or ``12.345,67`` as OCR may read the marks); thousands grouped by
    three or not at all, else None: a lost digit must not pass for a smaller sum."""
    text = re.sub(r"[^0-9.,]", "", raw.translate(_DIGITISH))
    found = _GROUPED.fullmatch(text)
    if not found:
        return None
    whole = re.sub(r"[.,]", "", found.group(1))
    return Decimal(f"{int(whole)}.{found.group(2) or '00'}")


def _money(raw: str) -> tuple[str | None, bool]:
    value = _amount(raw)
    return (str(value), value > 0) if value is not None else (raw.strip() or None, False)


def _capital(raw: str) -> tuple[str | None, bool]:
    """Registered capital in yuan: ``500万元人民币`` or ``RMB 5,000,000``."""
    text = raw.translate(_DIGITISH)
    wan = re.search(r"([0-9][0-9,.]*)\s*万", text)
    if wan:
        try:
            value = Decimal(wan.group(1).replace(",", "")) * 10000
        except InvalidOperation:
            return raw.strip() or None, False
    else:  # whole yuan, grouped by three or not at all
        found = re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+|\d+", re.sub(r"[^0-9.,]", "", text))
        if not found:
            return raw.strip() or None, False
        value = Decimal(re.sub(r"[.,]", "", found.group()))
    value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value
    return str(value), value > 0


PARSERS: dict[str, dict[str, Callable[[str], tuple[str | None, bool]]]] = {
    "coc": {
        "certificate_no": _certificate_no,
        "vin": _vin,
        "brand": _key,
        "model": _code,
        "engine_no": _code,
        "colour": _key,
        "manufacture_date": _date,
    },
    "invoice": {
        "invoice_code": _digits((10, 12)),
        "invoice_no": _digits((8, 20)),
        "date": _date,
        "buyer": _text,
        "buyer_tax_id": _uscc,
        "seller": _text,
        "amount": _money,
        "tax": _money,
        "total": _money,
    },
    "licence": {
        "credit_code": _uscc,
        "name": _text,
        "legal_representative": _text,
        "registered_capital": _capital,
        "established": _date,
        "address": _text,
    },
}


def extract_rows(kind: str, found_rows: Sequence[Row]) -> Extraction:
    """The kind's fields from rows of text (see the module's docstring)."""
    if kind not in LABELS:
        raise ValueError(f"unknown document kind {kind!r}")
    raw: dict[str, tuple[str, float]] = {}
    waiting: str | None = None  # a label alone on its row: its value is on the next one
    for row in found_rows:
        hit = _match(kind, row.text)
        if hit is None:
            if waiting and row.text:
                raw[waiting] = (row.text, row.confidence)
            waiting = None
            continue
        name, rest = hit
        waiting = None
        if name in raw:
            continue
        if rest:
            raw[name] = (rest, row.confidence)
        else:
            waiting = name
    fields = {}
    for name, parse in PARSERS[kind].items():
        if name not in raw:
            fields[name] = Field(name=name, value=None, confidence=0.0)
            continue
        text, confidence = raw[name]
        value, ok = parse(text)
        if isinstance(value, Repaired):
            value, confidence = str(value), min(confidence, REPAIRED_CONFIDENCE)
        fields[name] = Field(name, value, confidence if ok else 0.0, raw=text, valid=ok)
    if kind == "invoice":
        fields = _check_total(fields)
    return Extraction(kind=kind, fields=fields)


def _check_total(fields: dict[str, Field]) -> dict[str, Field]:
    """Amount + tax must be the total: if not, none of the three is trusted."""
    parts = [fields[n] for n in ("amount", "tax", "total")]
    if all(f.valid for f in parts) and Decimal(parts[0].value) + Decimal(parts[1].value) == Decimal(
        parts[2].value
    ):
        return fields
    out = dict(fields)
    for f in parts:
        out[f.name] = Field(f.name, f.value, 0.0, raw=f.raw, valid=False)
    return out


def extract(kind: str, lines: Sequence[OcrLine]) -> Extraction:
    return extract_rows(kind, rows(lines))
