"""Realistic document images for the OCR robot's tests and benchmark: a certificate of
conformity, a VAT invoice or a business licence, labelled in Chinese or English, with random but
valid values (VINs and credit codes with their check digits, totals that add up), drawn with
Debian's WenQuanYi Micro Hei (``fonts-wqy-microhei``) and lightly spoiled (a small rotation,
blur, speckle, JPEG) from a seed. ``sample(kind, seed)`` returns the JPEG bytes and the true
fields in the form ``fields.extract`` returns them."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from backend.rpa.ocr import codes
from backend.rpa.ocr.fields import LABELS, TITLES

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/local/share/fonts/wqy-microhei.ttc",
)
KINDS = ("coc", "invoice", "licence")
LANGS = ("zh", "en")
WIDTH, HEIGHT = 1100, 780


def font_path() -> Path | None:
    """The CJK font, or None when fonts-wqy-microhei is not installed."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class Sample:
    kind: str
    lang: str
    image: bytes  # JPEG
    fields: dict[str, str]  # the truth, normalised as fields.extract returns it
    shown: dict[str, str]  # the text printed after each label


# value pools ---------------------------------------------------------------------------------

_WMI = ("LSV", "LFV", "LGB", "LVS", "LSG", "LBV", "LHG", "LGW", "LDC", "LNB")
_BRANDS = (
    ("比亚迪", "BYD"),
    ("吉利", "GEELY"),
    ("长安", "CHANGAN"),
    ("红旗", "HONGQI"),
    ("长城", "GREAT WALL"),
    ("奇瑞", "CHERY"),
    ("五菱", "WULING"),
    ("广汽传祺", "TRUMPCHI"),
)
_COLOURS = (
    ("白色", "WHITE"),
    ("黑色", "BLACK"),
    ("银色", "SILVER"),
    ("红色", "RED"),
    ("蓝色", "BLUE"),
    ("灰色", "GREY"),
)
_CITIES = (
    ("110105", "北京市", "朝阳区", "Beijing", "Chaoyang District"),
    ("310115", "上海市", "浦东新区", "Shanghai", "Pudong New Area"),
    ("440305", "深圳市", "南山区", "Shenzhen", "Nanshan District"),
    ("330106", "杭州市", "西湖区", "Hangzhou", "Xihu District"),
    ("510107", "成都市", "武侯区", "Chengdu", "Wuhou District"),
    ("420111", "武汉市", "洪山区", "Wuhan", "Hongshan District"),
)
_WORDS = (
    ("华信", "Huaxin"),
    ("恒通", "Hengtong"),
    ("瑞丰", "Ruifeng"),
    ("鼎盛", "Dingsheng"),
    ("宏远", "Hongyuan"),
    ("金桥", "Jinqiao"),
    ("明达", "Mingda"),
    ("安泰", "Antai"),
)
_TRADES = (
    ("汽车销售", "Auto Sales"),
    ("科技", "Technology"),
    ("贸易", "Trading"),
    ("物流", "Logistics"),
    ("汽车服务", "Auto Services"),
)
_ROADS = (
    ("科技园路", "Keji Road"),
    ("人民路", "Renmin Road"),
    ("建设大道", "Jianshe Avenue"),
    ("中山路", "Zhongshan Road"),
    ("滨江路", "Binjiang Road"),
)
_SURNAMES = (
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("赵", "Zhao"),
    ("黄", "Huang"),
)
_GIVEN = (
    ("伟", "Wei"),
    ("芳", "Fang"),
    ("建国", "Jianguo"),
    ("秀英", "Xiuying"),
    ("明", "Ming"),
    ("海涛", "Haitao"),
    ("丽", "Li"),
    ("志强", "Zhiqiang"),
)
_CODE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q: the codes on these documents avoid them


def _vin(rng: random.Random) -> str:
    body = rng.choice(_WMI) + "".join(rng.choice(codes.VIN_ALPHABET) for _ in range(5))
    tail = rng.choice("KLMNPRS") + rng.choice(_CODE_LETTERS) + f"{rng.randrange(10**6):06d}"
    return body + codes.vin_check_digit(body + "0" + tail) + tail


def _uscc(rng: random.Random, region: str) -> str:
    org8 = "".join(rng.choice("0123456789" + _CODE_LETTERS) for _ in range(8))
    org = org8 + codes.org_code_check_char(org8)
    if any(c not in codes.USCC_ALPHABET for c in org):  # an X/Z/S/V check char: draw again
        return _uscc(rng, region)
    first = "91" + region + org
    return first + codes.uscc_check_char(first)


def _date(rng: random.Random, start: date, days: int) -> date:
    return start + timedelta(days=rng.randrange(days))


def _shown_date(d: date, lang: str) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日" if lang == "zh" else d.isoformat()


def _company(rng: random.Random, lang: str) -> tuple[str, tuple]:
    city = rng.choice(_CITIES)
    word, trade = rng.choice(_WORDS), rng.choice(_TRADES)
    if lang == "zh":
        return f"{city[1]}{word[0]}{trade[0]}有限公司", city
    return f"{city[3]} {word[1]} {trade[1]} Co., Ltd.", city


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _coc(rng: random.Random, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    zh = lang == "zh"
    brand, colour = rng.choice(_BRANDS), rng.choice(_COLOURS)
    brand_code = brand[1].replace(" ", "")[:3]
    cert = "".join(rng.choice(_CODE_LETTERS) for _ in range(3)) + f"{rng.randrange(10**11):011d}"
    model = f"{brand_code}{rng.randrange(6400, 7200)}{rng.choice(_CODE_LETTERS)}{rng.randrange(10)}"
    engine = f"{brand_code[0]}{rng.randrange(3, 5)}{rng.choice(_CODE_LETTERS)}{rng.randrange(10)}"
    engine += f"{rng.randrange(10**8):08d}"
    made = _date(rng, date(2022, 1, 1), 1000)
    truth = {
        "certificate_no": cert,
        "vin": _vin(rng),
        "brand": brand[0] if zh else brand[1].replace(" ", ""),
        "model": model,
        "engine_no": engine,
        "colour": colour[0] if zh else colour[1],
        "manufacture_date": made.isoformat(),
    }
    shown = {
        **truth,
        "brand": brand[0] if zh else brand[1],
        "manufacture_date": _shown_date(made, lang),
    }
    return truth, shown


def _invoice(rng: random.Random, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    buyer, buyer_city = _company(rng, lang)
    seller, _ = _company(rng, lang)
    while seller == buyer:
        seller, _ = _company(rng, lang)
    amount = Decimal(rng.randrange(100_000, 50_000_000)).scaleb(-2)
    tax = (amount * Decimal(rng.choice(("0.13", "0.09", "0.06")))).quantize(Decimal("0.01"))
    issued = _date(rng, date(2024, 1, 1), 700)
    truth = {
        "invoice_code": f"{rng.choice(('44', '31', '11', '33'))}{rng.randrange(10**8):08d}",
        "invoice_no": f"{rng.randrange(10**8):08d}",
        "date": issued.isoformat(),
        "buyer": buyer,
        "buyer_tax_id": _uscc(rng, buyer_city[0]),
        "seller": seller,
        "amount": str(amount),
        "tax": str(tax),
        "total": str(amount + tax),
    }
    shown = {
        **truth,
        "date": _shown_date(issued, lang),
        "amount": "¥" + _money(amount),
        "tax": "¥" + _money(tax),
        "total": "¥" + _money(amount + tax),
    }
    return truth, shown


def _licence(rng: random.Random, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    zh = lang == "zh"
    name, city = _company(rng, lang)
    surname, given = rng.choice(_SURNAMES), rng.choice(_GIVEN)
    road, number = rng.choice(_ROADS), rng.randrange(1, 999)
    capital_wan = rng.choice((50, 100, 200, 500, 1000, 3000, 5000, 10000))
    founded = _date(rng, date(2000, 1, 1), 9000)
    if zh:
        address = f"{city[1]}{city[2]}{road[0]}{number}号"
        capital = f"{capital_wan}万元人民币"
    else:
        address = f"No. {number} {road[1]}, {city[4]}, {city[3]}"
        capital = f"RMB {capital_wan * 10000:,}"
    truth = {
        "credit_code": _uscc(rng, city[0]),
        "name": name,
        "legal_representative": surname[0] + given[0] if zh else f"{surname[1]} {given[1]}",
        "registered_capital": str(capital_wan * 10000),
        "established": founded.isoformat(),
        "address": address,
    }
    shown = {**truth, "registered_capital": capital, "established": _shown_date(founded, lang)}
    return truth, shown


_MAKERS = {"coc": _coc, "invoice": _invoice, "licence": _licence}


def values(kind: str, lang: str, seed: int) -> tuple[dict[str, str], dict[str, str]]:
    """The true fields of a document and the text shown for each, without an image."""
    return _MAKERS[kind](random.Random(f"{kind}:{lang}:{seed}"), lang)


def sample(kind: str, seed: int, lang: str | None = None, *, blur: float | None = None) -> Sample:
    """One document image. ``blur`` overrides the seeded light blur (a Gaussian radius in
    pixels; 3 and more make a page hard to read)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = random.Random(f"page:{kind}:{seed}")
    lang = lang or rng.choice(LANGS)
    truth, shown = values(kind, lang, seed)
    path = font_path()
    if path is None:
        raise RuntimeError("the CJK font (fonts-wqy-microhei) is not installed")
    paper = tuple(rng.randrange(236, 256) for _ in range(3))
    page = Image.new("RGB", (WIDTH, HEIGHT), paper)
    draw = ImageDraw.Draw(page)
    ink = tuple(rng.randrange(0, 50) for _ in range(3))
    title_font = ImageFont.truetype(str(path), 40)
    font = ImageFont.truetype(str(path), rng.randrange(25, 29))
    small = ImageFont.truetype(str(path), 18)
    accent = (150, 60, 40) if kind == "invoice" else (170, 30, 30)

    title = TITLES[kind][lang]
    tw = draw.textlength(title, font=title_font)
    draw.text(((WIDTH - tw) / 2, 40), title, font=title_font, fill=accent)
    draw.line((80, 105, WIDTH - 80, 105), fill=accent, width=2)

    names = list(truth)
    left, top = 70, 135
    row_h = (HEIGHT - top - 90) // len(names)
    label_w = 330 if lang == "en" else 250
    for i, name in enumerate(names):
        y = top + i * row_h
        draw.rectangle((left, y, WIDTH - left, y + row_h), outline=(120, 120, 120), width=1)
        draw.line((left + label_w, y, left + label_w, y + row_h), fill=(120, 120, 120))
        label = LABELS[kind][name][lang][0]
        ty = y + (row_h - font.size) / 2 - 2
        draw.text((left + 14, ty), label, font=font, fill=ink)
        draw.text((left + label_w + 18, ty), shown[name], font=font, fill=ink)
    footer = {
        "coc": ("本合格证经制造企业签章有效", "Valid with the manufacturer's seal"),
        "invoice": ("国家税务总局监制", "Supervised by the State Taxation Administration"),
        "licence": ("登记机关（盖章）", "Registration authority (seal)"),
    }[kind][0 if lang == "zh" else 1]
    draw.text(
        (WIDTH - 80 - draw.textlength(footer, font=small), HEIGHT - 60),
        footer,
        font=small,
        fill=accent,
    )
    # a red seal, partly over the last rows, as on the real documents
    cx, cy, r = WIDTH - 200, HEIGHT - 150, 62
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(215, 60, 60), width=4)

    angle = rng.uniform(-1.2, 1.2)
    page = page.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=paper)
    radius = rng.uniform(0.2, 0.8) if blur is None else blur
    page = page.filter(ImageFilter.GaussianBlur(radius))
    pixels = page.load()
    for _ in range(WIDTH * HEIGHT // 400):  # speckle
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        shade = rng.randrange(90, 200)
        pixels[x, y] = (shade, shade, shade)
    out = io.BytesIO()
    page.save(out, format="JPEG", quality=rng.randrange(60, 90))
    return Sample(kind=kind, lang=lang, image=out.getvalue(), fields=truth, shown=shown)
