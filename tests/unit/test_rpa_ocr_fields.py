"""Fields from fixed OCR line lists (what rapidocr returns, typed in): no engine, fast."""

from __future__ import annotations

import pytest

from backend.rpa.ocr.engine import OcrLine
from backend.rpa.ocr.fields import REPAIRED_CONFIDENCE, extract, normalise, rows


def line(text, x, y, confidence=0.98, h=30, w=None):
    w = w or 14 * len(text)
    return OcrLine(text, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), confidence)


def table(pairs, confidence=0.98):
    """Label and value as separate boxes on one row (a table), each row a bit askew."""
    out = []
    for i, (label, value) in enumerate(pairs):
        y = 140 + 60 * i
        out.append(line(label, 80, y, 0.99))
        out.append(line(value, 340, y + 3, confidence))
    return out


def test_normalise_full_width_marks_and_spaces():
    assert normalise("合格证编号：ＷＡＣ０１２") == "合格证编号:WAC012"
    assert normalise("车辆 品牌  比亚迪") == "车辆品牌比亚迪"
    assert normalise("Invoice   No.  12") == "Invoice No. 12"
    assert normalise("（盖章）") == "(盖章)"


def test_rows_group_boxes_by_line_left_to_right():
    lines = [line("value", 340, 103), line("label", 80, 100), line("next", 80, 160)]
    assert [r.text for r in rows(lines)] == ["label value", "next"]
    lines = [line("a", 80, 100, 0.9), line("b", 340, 104, 0.7)]
    assert rows(lines)[0].confidence == 0.7  # the row is as sure as its least sure box


def test_certificate_of_conformity_in_chinese():
    lines = [
        line("机动车整车出厂合格证", 400, 40),
        *table(
            [
                ("合格证编号：", "WAC 0518 0012 3456"),
                ("车辆识别代号", "1M8GDM9AXKP042789"),
                ("车辆品牌", "比亚迪"),
                ("车辆型号", "BYD6460ST6HEV"),
                ("发动机号", "BYD476ZQC-1234567"),
                ("车身颜色", "白 色"),
                ("车辆制造日期", "2023年O3月15日"),
            ]
        ),
    ]
    got = extract("coc", lines)
    vin_ok = got.fields["vin"].valid
    assert got.values() == {
        "certificate_no": "WAC051800123456",
        "vin": "1M8GDM9AXKP042789",
        "brand": "比亚迪",
        "model": "BYD6460ST6HEV",
        "engine_no": "BYD476ZQC-1234567",
        "colour": "白色",
        "manufacture_date": "2023-03-15",
    }
    assert got.fields["brand"].confidence == pytest.approx(0.98)
    # the VIN above has a wrong last digit no look-alike explains: confidence 0, value kept
    assert not vin_ok
    assert got.fields["vin"].confidence == 0.0
    assert got.low(0.9) == ["vin"]


def test_certificate_vin_with_letter_o_and_english_labels():
    lines = table(
        [
            ("Certificate No.:", "GLA96801452180"),
            ("VIN:", "1M8GDM9AXKPO42788"),
            ("Brand", "Great Wall"),
            ("Model", "GRE6521C4"),
            ("Engine No.", "G4D500123456"),
            ("Colour", "silver"),
            ("Date of Manufacture", "2024-1-9"),
        ]
    )
    got = extract("coc", lines)
    assert got.fields["vin"].value == "1M8GDM9AXKP042788"
    assert got.fields["vin"].confidence == pytest.approx(0.98)
    assert got.fields["brand"].value == "GREATWALL"
    assert got.fields["colour"].value == "SILVER"
    assert got.fields["manufacture_date"].value == "2024-01-09"
    assert got.low(0.9) == []


def test_a_code_valid_only_after_a_look_alike_swap_goes_to_a_person():
    got = extract("coc", table([("VIN", "1MBGDM9AXKP042788")]))
    assert got.fields["vin"].value == "1M8GDM9AXKP042788"
    assert got.fields["vin"].confidence == REPAIRED_CONFIDENCE


INVOICE_EN = [
    ("Invoice Code", "4403201130"),
    ("Invoice No.", "O0123456"),
    ("Date of Issue", "2025-03-07"),
    ("Buyer", "ShenzhenHuaxin Auto SalesCo.,Ltd."),
    ("Buyer Tax ID", "9144O3OO71526726XG"),
    ("Seller", "Wuhan Antai Trading Co., Ltd."),
    ("Amount (excl.tax)", "¥132,816.29"),
    ("Tax", "￥17,266.12"),
    ("Total (incl. tax)", "¥150.082,41"),
]


def test_vat_invoice_in_english_with_ocr_slips():
    got = extract("invoice", table(INVOICE_EN))
    assert got.values() == {
        "invoice_code": "4403201130",
        "invoice_no": "00123456",
        "date": "2025-03-07",
        "buyer": "Shenzhen Huaxin Auto Sales Co., Ltd.",
        "buyer_tax_id": "9144030071526726XG",
        "seller": "Wuhan Antai Trading Co., Ltd.",
        "amount": "132816.29",
        "tax": "17266.12",
        "total": "150082.41",
    }
    assert got.low(0.9) == []


def test_a_total_that_is_not_amount_plus_tax_trusts_none_of_the_three():
    pairs = [*INVOICE_EN[:-1], ("Total (incl. tax)", "¥150,082.47")]
    got = extract("invoice", table(pairs))
    assert sorted(got.low(0.9)) == ["amount", "tax", "total"]
    assert got.fields["total"].value == "150082.47"  # kept for the reviewer


def test_a_lost_digit_in_a_grouped_sum_is_not_a_smaller_sum():
    pairs = [
        *INVOICE_EN[:6],
        ("金额", "¥13,816.29"),
        ("税额", "¥1,266.12"),
        ("价税合计", "¥15,082.4"),
    ]
    got = extract("invoice", table(pairs))
    assert got.fields["total"].confidence == 0.0


def test_vat_invoice_labels_in_chinese_and_a_value_on_the_next_row():
    lines = [
        line("发票代码：3100194130", 80, 100),
        line("发票号码", 80, 160),
        line("12345678", 80, 200),  # the value under its label
        line("开票日期:2024年12月31日", 80, 260),
        line("购买方名称：上海市恒通贸易有限公司", 80, 320),
        line("购买方纳税人识别号：91350100M000100Y43", 80, 380),
        line("销售方名称：杭州市鼎盛物流有限公司", 80, 440),
        line("金额：¥1,000.00", 80, 500),
        line("税额：¥130.00", 80, 560),
        line("价税合计：¥1,130.00", 80, 620),
    ]
    got = extract("invoice", lines)
    assert got.fields["invoice_no"].value == "12345678"
    assert got.fields["buyer_tax_id"].value == "91350100M000100Y43"
    assert got.fields["buyer"].value == "上海市恒通贸易有限公司"
    assert got.fields["total"].value == "1130.00"
    assert got.low(0.9) == []


def test_business_licence_both_languages():
    zh = extract(
        "licence",
        table(
            [
                ("统一社会信用代码", "91440300192203B216"),
                ("名称", "深圳市华信科技有限公司"),
                ("法定代表人", "王建国"),
                ("注册资本", "500万元人民币"),
                ("成立日期", "2008年07月01日"),
                ("住所", "深圳市南山区科技园路 88号"),
            ]
        ),
    )
    assert zh.values() == {
        "credit_code": "914403001922038216",
        "name": "深圳市华信科技有限公司",
        "legal_representative": "王建国",
        "registered_capital": "5000000",
        "established": "2008-07-01",
        "address": "深圳市南山区科技园路88号",
    }
    assert zh.low(0.9) == ["credit_code"]  # 8 read as B: a person confirms the repair
    en = extract(
        "licence",
        table(
            [
                ("Unified Social Credit Code", "9144030071526726XG"),
                ("Name", "ShenzhenHuaxin TechnologyCo.,Ltd."),
                ("LegalRepresentative", "ZhangWei"),
                ("Registered Capital", "RMB10,000,000"),
                ("Date of Establishment", "2001-12-03"),
                ("Address", "No.88Keji Road,NanshanDistrict,Shenzhen"),
            ]
        ),
    )
    assert en.values() == {
        "credit_code": "9144030071526726XG",
        "name": "Shenzhen Huaxin Technology Co., Ltd.",
        "legal_representative": "Zhang Wei",
        "registered_capital": "10000000",
        "established": "2001-12-03",
        "address": "No. 88 Keji Road, Nanshan District, Shenzhen",
    }
    assert en.low(0.9) == []


def test_capital_misread_in_its_grouping_is_not_trusted():
    got = extract("licence", table([("Registered Capital", "RMB100,000,00")]))
    assert got.fields["registered_capital"].confidence == 0.0


def test_missing_fields_are_none_with_confidence_zero():
    got = extract("licence", table([("名称", "深圳市华信科技有限公司")]))
    assert got.fields["address"].value is None
    assert got.confidences()["address"] == 0.0
    assert set(got.low(0.9)) == set(got.fields) - {"name"}


def test_an_impossible_date_is_not_trusted():
    got = extract("licence", table([("成立日期", "2008年13月01日")]))
    assert got.fields["established"].confidence == 0.0


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown document kind"):
        extract("passport", [])
