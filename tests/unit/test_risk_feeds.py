"""Feed records: the credit code check, name normalisation, record validation with a reason
for every refusal, and the file and HTTP adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.risk.creditcode import (
    is_valid_credit_code,
    make_credit_code,
    normalize_credit_code,
    normalize_name,
)
from backend.risk.intake.adapters import (
    FeedError,
    FileFeedAdapter,
    HttpFeedAdapter,
    load_feed_config,
    parse_feed_text,
)
from backend.risk.intake.records import FeedRecord, Rejection, parse_record

NOW = datetime(2025, 6, 1, tzinfo=UTC)
CODE = make_credit_code(4242)


@pytest.mark.parametrize("code", ["914403001922038216", "9144030071526726XG", "91330100716105852F"])
def test_real_credit_codes_pass_the_check(code):
    assert is_valid_credit_code(code)


@pytest.mark.parametrize(
    "code",
    ["914403001922038217", "9144030071526726X", "91440300715267I6XG", "", None, "x" * 18],
)
def test_mistyped_credit_codes_fail(code):
    assert not is_valid_credit_code(code)


def test_generated_codes_are_valid_and_distinct():
    codes = {make_credit_code(i) for i in range(2000)}
    assert len(codes) == 2000 and all(is_valid_credit_code(c) for c in codes)
    assert normalize_credit_code(" ９１４４０３００１９２２０３８２１６ ") == "914403001922038216"


def test_names_fold_width_space_and_punctuation_but_not_legal_form():
    a = normalize_name("华鑫科技（上海）有限公司")
    assert (
        a
        == normalize_name(" 华鑫科技(上海)有限公司 ")
        == normalize_name("华鑫科技 (上海) 有限公司")
    )
    assert normalize_name("Huaxin Tech Co., Ltd.") == normalize_name("HUAXIN TECH CO LTD")
    assert normalize_name("华鑫科技有限公司") != normalize_name("华鑫科技股份有限公司")


def _event(**over):
    record = {
        "record_id": "CT-1",
        "credit_code": CODE,
        "name": "华鑫科技有限公司",
        "kind": "lawsuit_defendant",
        "time": "2025-03-01T08:00:00Z",
        "data": {"amount": "1200000.00"},
    }
    record.update(over)
    return record


def test_a_valid_event_is_normalised():
    record = parse_record(_event(severity="high"), 3, now=NOW)
    assert isinstance(record, FeedRecord)
    assert (record.index, record.kind, record.category, record.severity) == (
        3,
        "lawsuit_defendant",
        "judicial",
        3,
    )
    assert record.time == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert record.data == {"amount": "1200000.00"}
    assert parse_record(_event(), 0, now=NOW).content_hash != record.content_hash


def test_defaults_and_aliases():
    record = parse_record(
        _event(kind="overdue_loan", severity="strong", data={}, time="2025-03-01"), 0, now=NOW
    )
    assert record.data == {"days_overdue": 0}  # unknown days: 0, stated explicitly
    assert record.severity == 3  # a signal level used as a severity
    assert record.time == datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"record_id": ""}, "missing_record_id"),
        ({"record_id": None}, "missing_record_id"),
        ({"colour": "red"}, "unknown_field"),
        ({"type": "gossip"}, "unknown_type"),
        ({"kind": "alien_invasion"}, "unknown_kind"),
        ({"credit_code": "914403001922038217"}, "invalid_credit_code"),
        ({"credit_code": None, "name": None}, "missing_enterprise"),
        ({"time": None}, "missing_time"),
        ({"time": "yesterday"}, "invalid_time"),
        ({"time": "2025-03-01T08:00:00"}, "invalid_time"),
        ({"time": "2031-01-01T00:00:00Z"}, "future_time"),
        ({"severity": "apocalyptic"}, "invalid_severity"),
        ({"data": {"amount": 1.5}}, "invalid_data"),
        ({"data": {"amount": "1.234"}}, "invalid_data"),
        ({"data": "not an object"}, "invalid_data"),
        ({"data": {"blob": "x" * 9000}}, "data_too_large"),
        ({"kind": "news", "data": {"sentiment": 3}}, "invalid_data"),
        ({"kind": "news", "data": {}}, "invalid_data"),
        ({"kind": "rating_change", "data": {"rating": "AAAA"}}, "invalid_data"),
        ({"kind": "status_change", "data": {"status": "sleeping"}}, "invalid_data"),
    ],
)
def test_each_malformed_record_is_rejected_with_its_reason(change, reason):
    result = parse_record(_event(**change), 7, now=NOW)
    assert isinstance(result, Rejection), result
    assert (result.index, result.reason) == (7, reason)
    assert result.message


def test_non_objects_are_rejected():
    assert parse_record([1, 2], 0, now=NOW).reason == "not_an_object"


def test_profile_and_edge_records():
    profile = parse_record(
        {
            "record_id": "P-1",
            "type": "profile",
            "credit_code": CODE,
            "name": "华鑫科技有限公司",
            "time": "2025-01-01",
            "data": {"registered_capital": "50000000.00", "flags": {"srdi": True}},
        },
        0,
        now=NOW,
    )
    assert isinstance(profile, FeedRecord) and profile.data["flags"] == {"srdi": True}
    edge = {
        "record_id": "E-1",
        "type": "edge",
        "kind": "guarantee",
        "from": {"credit_code": CODE},
        "to": {"credit_code": make_credit_code(1)},
        "amount": "3000000.00",
        "time": "2025-01-01",
    }
    assert isinstance(parse_record(edge, 0, now=NOW), FeedRecord)
    for change in (
        {"amount": None},
        {"kind": "love"},
        {"to": {"person_key": "P1"}},
        {"from": {"person_key": "P1"}},  # a person cannot guarantee here: only enterprises
        {"to": {"credit_code": CODE}},
        {"share": 1.5, "kind": "equity"},
    ):
        result = parse_record({**edge, **change}, 0, now=NOW)
        assert isinstance(result, Rejection) and result.reason == "invalid_edge", change
    equity = {**edge, "kind": "equity", "from": {"person_key": "P1", "name": "王伟"}, "share": 0.6}
    equity.pop("amount")
    assert parse_record(equity, 0, now=NOW).share == 0.6


def test_an_edge_can_end_and_a_release_needs_no_amount():
    release = {
        "record_id": "E-1-END",
        "type": "edge",
        "kind": "guarantee",
        "from": {"credit_code": CODE},
        "to": {"credit_code": make_credit_code(1)},
        "time": "2025-03-01",
        "ended": "2025-03-01T10:00:00+08:00",
    }
    parsed = parse_record(release, 0, now=NOW)
    assert parsed.ended == datetime(2025, 3, 1, 2, tzinfo=UTC) and parsed.amount is None
    assert parse_record({**release, "ended": "2025-03-01"}, 0, now=NOW).ended == datetime(
        2025, 3, 1, tzinfo=UTC
    )
    for change in ({"ended": "soon"}, {"ended": "2025-03-01T10:00:00"}, {"amount": "0.00"}):
        result = parse_record({**release, **change}, 0, now=NOW)
        assert isinstance(result, Rejection) and result.reason == "invalid_edge", change


def test_files_are_read_as_utf8_then_gb18030_else_undecodable():
    from backend.risk.intake.adapters import decode_feed

    text = '{"name": "华鑫科技（上海）有限公司 𠀾"}'
    assert decode_feed(text.encode("utf-8")) == text
    assert decode_feed(b"\xef\xbb\xbf" + text.encode("utf-8")) == text  # with a BOM
    assert decode_feed(text.encode("gb18030")) == text
    assert decode_feed("华鑫".encode("gbk")) == "华鑫"
    with pytest.raises(FeedError) as failure:
        decode_feed(b"\xff\xfe\x80\x81")
    assert failure.value.reason == "undecodable"


def test_jsonl_with_a_broken_line_keeps_the_rest():
    text = "\n".join(
        [json.dumps(_event(record_id="a")), "{not json", "", json.dumps(_event(record_id="b"))]
    )
    records, rejected = parse_feed_text(text, "jsonl")
    assert [r["record_id"] for r in records] == ["a", "b"]
    assert [(r.reason, r.line) for r in rejected] == [("malformed_json", 2)]


def test_csv_and_json_documents(tmp_path):
    csv_text = (
        "record_id,credit_code,kind,time,data\n"
        f'c1,{CODE},news,2025-01-01,"{{""sentiment"": -0.9}}"\n'
        f"c2,{CODE},news,2025-01-01,{{broken\n"
    )
    records, rejected = parse_feed_text(csv_text, "csv")
    assert records == [
        {
            "record_id": "c1",
            "credit_code": CODE,
            "kind": "news",
            "time": "2025-01-01",
            "data": {"sentiment": -0.9},
        }
    ]
    assert rejected[0].reason == "malformed_json" and rejected[0].line == 3
    assert parse_feed_text(json.dumps({"records": [1]}), "json")[0] == [1]
    with pytest.raises(FeedError):
        parse_feed_text("{", "json")
    (tmp_path / "b.jsonl").write_text(json.dumps(_event()) + "\n", encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps([_event(record_id="z")]), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    batches = list(FileFeedAdapter(tmp_path, "court").batches())
    assert [b.location.rsplit("/", 1)[1] for b in batches] == ["a.json", "b.jsonl"]
    assert all(b.checksum and b.adapter == "file" for b in batches)
    with pytest.raises(FeedError):
        list(FileFeedAdapter(tmp_path / "missing.jsonl", "court").batches())


def test_http_adapter_follows_cursors_with_an_injected_transport():
    pages = {
        "https://feed.example/news?since=c0": {"records": [1, 2], "next_cursor": "c1"},
        "https://feed.example/news?since=c1": {"records": [3], "next_cursor": None},
    }
    seen = []

    def fetch(url):
        seen.append(url)
        return pages[url]

    batches = list(
        HttpFeedAdapter("https://feed.example/news", "news", since="c0", fetch=fetch).batches()
    )
    assert [b.records for b in batches] == [[1, 2], [3]]
    assert [b.cursor for b in batches] == ["c1", "c1"]
    assert seen == list(pages)

    def broken(url):
        raise ConnectionError("refused")

    with pytest.raises(FeedError, match="refused"):
        list(HttpFeedAdapter("https://feed.example/news", "news", fetch=broken).batches())
    with pytest.raises(FeedError, match="records"):
        list(HttpFeedAdapter("https://x", "news", fetch=lambda url: {"items": []}).batches())


def test_feed_config(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - {source: news, adapter: http, url: 'https://x', schedule: sentiment}\n"
        "  - {source: court, adapter: file, path: /data/court}\n",
        encoding="utf-8",
    )
    specs = load_feed_config(path)
    assert [(s.source, s.schedule) for s in specs] == [("news", "sentiment"), ("court", "daily")]
    assert load_feed_config(tmp_path / "none.yaml") == []
    path.write_text("feeds:\n  - {source: x, adapter: ftp}\n", encoding="utf-8")
    with pytest.raises(FeedError):
        load_feed_config(path)
