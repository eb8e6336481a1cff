"""The wire contract (CONTRACT.md §3): topics, canonical JSON, envelopes, signed commands."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from edge import protocol
from edge.protocol import (
    SEALED,
    Envelope,
    NonceCache,
    ProtocolError,
    SealedCode,
    Topic,
    build_topic,
    canonical_json,
    code_mac,
    decode_envelope,
    encode,
    make_ack,
    make_command,
    make_envelope,
    parse_ack,
    parse_topic,
    sign_command,
    stored_args,
    topic_filter,
    verify_command,
    wire_args,
)

NOW = datetime(2025, 3, 1, 8, 30, 0, 123000, tzinfo=UTC)
SECRET = b"device-secret-0123456789"


def valid_dict(**overrides) -> dict:
    obj = {
        "id": str(uuid.uuid4()),
        "ts": "2025-03-01T08:30:00.123Z",
        "seq": 7,
        "type": "lock.opened",
        "data": {"by": "loader1"},
    }
    obj.update(overrides)
    return obj


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


def code_of(payload: bytes, **kwargs) -> str:
    with pytest.raises(ProtocolError) as info:
        decode_envelope(payload, now=NOW, **kwargs)
    return info.value.code


# --------------------------------------------------------------------------- topics


def test_build_and_parse_topic_round_trip():
    topic = build_topic("BR001", "lock", "dev1", "telemetry")
    assert topic == "fe/v1/BR001/lock/dev1/telemetry"
    assert parse_topic(topic) == Topic("BR001", "lock", "dev1", "telemetry")
    assert str(parse_topic(topic)) == topic


@pytest.mark.parametrize("channel", ["config/desired", "config/reported"])
def test_two_level_channels(channel):
    topic = build_topic("BR001", "kiosk", "k-01", channel)
    assert topic.endswith("/" + channel)
    assert parse_topic(topic).channel == channel


@pytest.mark.parametrize("device_type", sorted(protocol.DEVICE_TYPES))
def test_every_device_type_is_accepted(device_type):
    assert parse_topic(build_topic("BR1", device_type, "d1", "state")).device_type == device_type


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "fe/v1/BR001/lock/dev1",  # no channel
        "fe/v2/BR001/lock/dev1/state",  # wrong version
        "xx/v1/BR001/lock/dev1/state",
        "fe/v1/BR001/toaster/dev1/state",  # unknown device type
        "fe/v1/BR001/lock/dev1/gossip",  # unknown channel
        "fe/v1/BR001/lock/dev1/config",  # half a channel
        "fe/v1/BR001/lock/dev1/config/other",
        "fe/v1/BR001/lock/dev1/state/extra",
        "fe/v1/+/lock/dev1/state",  # wildcard is a filter, not a topic
        "fe/v1/BR001/lock/#",
        "fe/v1//lock/dev1/state",  # empty branch
        "fe/v1/BR001/lock/de v1/state",
        "fe/v1/BR001/lock/dev1/state/",
        "/fe/v1/BR001/lock/dev1/state",
        "fe/v1/BR001/lock/" + "d" * 65 + "/state",  # id too long
    ],
)
def test_parse_topic_rejects(topic):
    with pytest.raises(ProtocolError) as info:
        parse_topic(topic)
    assert info.value.code == "bad_topic"


def test_parse_topic_rejects_non_string():
    with pytest.raises(ProtocolError):
        parse_topic(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [
        ("BR/001", "lock", "dev1", "state"),
        ("BR001", "lock", "dev+1", "state"),
        ("BR001", "LOCK", "dev1", "state"),
        ("BR001", "lock", "dev1", "cmd/"),
        ("", "lock", "dev1", "state"),
    ],
)
def test_build_topic_rejects(args):
    with pytest.raises(ProtocolError):
        build_topic(*args)


def test_topic_filter():
    assert topic_filter() == "fe/v1/+/+/+/#"
    assert topic_filter("BR001") == "fe/v1/BR001/+/+/#"
    assert topic_filter("BR001", "lock", "dev1", "cmd") == "fe/v1/BR001/lock/dev1/cmd"
    assert topic_filter(channel="telemetry") == "fe/v1/+/+/+/telemetry"
    with pytest.raises(ProtocolError):
        topic_filter(device_type="toaster")


# --------------------------------------------------------------------------- canonical JSON


def test_canonical_json_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "柜台"}}) == (
        '{"a":{"c":"柜台","d":[1,2]},"b":1}'.encode()
    )


def test_canonical_json_is_independent_of_key_order():
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


# --------------------------------------------------------------------------- envelopes


def test_make_envelope_encode_decode_round_trip():
    env = make_envelope("counter.ticket_called", {"ticket_no": "A012"}, seq=3, now=NOW)
    assert uuid.UUID(env.id).version == 4
    assert env.ts == "2025-03-01T08:30:00.123Z"
    assert env.timestamp == NOW
    payload = encode(env)
    assert payload == canonical_json(env.to_dict())
    assert decode_envelope(payload, now=NOW) == env
    assert "sig" not in json.loads(payload)  # optional fields only when set


def test_decode_accepts_offset_zero_and_nanoseconds():
    env = decode_envelope(raw(valid_dict(ts="2025-03-01T08:30:00.123456789+00:00")), now=NOW)
    assert env.timestamp.microsecond == 123456


def test_decode_accepts_historical_replays_of_old_messages():
    old = valid_dict(ts="2025-03-01T02:00:00Z", historical=True)
    assert decode_envelope(raw(old), now=NOW).historical is True


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xfe\x00garbage", "not_utf8"),
        (b"not json at all", "bad_json"),
        (b"", "bad_json"),
        (b"[1, 2, 3]", "not_object"),
        (b'"a string"', "not_object"),
        (b"null", "not_object"),
        (b'{"id": NaN}', "bad_json"),
        (b"[" * 100_000 + b"]" * 100_000, "too_large"),
        (b"[" * 5000 + b"]" * 5000, "bad_json"),  # recursion
    ],
)
def test_decode_rejects_garbage(payload, code):
    assert code_of(payload) == code


def test_decode_rejects_duplicate_keys():
    payload = b'{"id":"x","id":"y","ts":"","seq":1,"type":"a.b","data":{}}'
    assert code_of(payload) == "bad_json"


def test_decode_rejects_oversize_and_honours_limit():
    big = valid_dict(data={"blob": "x" * (64 * 1024)})
    assert code_of(raw(big)) == "too_large"
    small = raw(valid_dict())
    assert code_of(small, max_bytes=len(small) - 1) == "too_large"
    assert decode_envelope(small, now=NOW, max_bytes=len(small)).seq == 7


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"id": "not-a-uuid"}, "bad_id"),
        ({"id": str(uuid.uuid4()).upper()}, "bad_id"),
        ({"id": 12345}, "bad_id"),
        ({"id": uuid.uuid4().hex}, "bad_id"),
        ({"ts": "2025-03-01 08:30:00"}, "bad_ts"),
        ({"ts": "2025-03-01T08:30:00"}, "bad_ts"),  # no zone
        ({"ts": "2025-03-01T16:30:00+08:00"}, "bad_ts"),  # not UTC
        ({"ts": "2025-02-30T08:30:00Z"}, "bad_ts"),  # no such day
        ({"ts": 1740817800}, "bad_ts"),
        ({"ts": None}, "bad_ts"),
        ({"seq": -1}, "bad_seq"),
        ({"seq": "7"}, "bad_seq"),
        ({"seq": 7.0}, "bad_seq"),
        ({"seq": True}, "bad_seq"),
        ({"seq": 2**64}, "bad_seq"),
        ({"type": "opened"}, "bad_type"),  # not dotted
        ({"type": "Lock.Opened"}, "bad_type"),
        ({"type": "lock..opened"}, "bad_type"),
        ({"type": ".lock"}, "bad_type"),
        ({"type": ["lock.opened"]}, "bad_type"),
        ({"type": "a." + "b" * 200}, "bad_type"),
        ({"data": []}, "bad_data"),
        ({"data": "x"}, "bad_data"),
        ({"data": None}, "bad_data"),
        ({"extra": 1}, "unknown_field"),
        ({"historical": "yes"}, "bad_historical"),
        ({"nonce": "short"}, "bad_nonce"),
        ({"nonce": 123456789}, "bad_nonce"),
        ({"sig": "zz"}, "bad_sig"),
        ({"sig": "A" * 64}, "bad_sig"),
        ({"expires_at": "tomorrow"}, "bad_expires_at"),
    ],
)
def test_decode_rejects_wrong_fields(overrides, code):
    assert code_of(raw(valid_dict(**overrides))) == code


@pytest.mark.parametrize("missing", ["id", "ts", "seq", "type", "data"])
def test_decode_rejects_missing_fields(missing):
    obj = valid_dict()
    del obj[missing]
    assert code_of(raw(obj)) == "missing_field"


@pytest.mark.parametrize(
    "ts",
    [
        "2025-03-01T08:36:00Z",
        "2025-03-01T08:24:00Z",
        "2031-01-01T00:00:00Z",
        "1999-01-01T00:00:00Z",
    ],
)
def test_decode_rejects_skewed_clock(ts):
    assert code_of(raw(valid_dict(ts=ts))) == "clock_skew"


def test_skew_bound_is_configurable_and_can_be_switched_off():
    payload = raw(valid_dict(ts="2025-03-01T08:36:00Z"))
    assert decode_envelope(payload, now=NOW, max_skew_s=600).seq == 7
    assert decode_envelope(payload, now=NOW, max_skew_s=None).seq == 7
    within = raw(valid_dict(ts="2025-03-01T08:34:59Z"))
    assert decode_envelope(within, now=NOW).seq == 7


def test_historical_never_excuses_a_future_timestamp():
    payload = raw(valid_dict(ts="2025-03-01T09:30:00Z", historical=True))
    assert code_of(payload) == "clock_skew"


def test_errors_are_value_errors_with_code_and_message():
    with pytest.raises(ValueError, match="bad_json"):
        decode_envelope(b"{", now=NOW)
    error = ProtocolError("bad_seq", "nope")
    assert (error.code, error.message) == ("bad_seq", "nope")


def test_envelope_requires_aware_now():
    with pytest.raises(ValueError):
        make_envelope("a.b", {}, 0, now=datetime(2025, 1, 1))


# --------------------------------------------------------------------------- commands


def seen_never(_nonce: str) -> bool:
    return False


def test_sign_command_is_hmac_over_canonical_json_without_sig():
    env = valid_dict(expires_at="2025-03-01T08:32:00Z", nonce="n" * 16, sig="0" * 64)
    signed = sign_command(env, SECRET)
    body = {k: v for k, v in env.items() if k != "sig"}
    expected = hmac.new(SECRET, canonical_json(body), hashlib.sha256).hexdigest()
    assert signed["sig"] == expected
    assert env["sig"] == "0" * 64  # the input is not modified


def test_make_and_verify_command():
    cmd = make_command("lock.unlock", {"task_id": "42"}, seq=1, secret=SECRET, now=NOW)
    assert cmd.expires == NOW + timedelta(seconds=120)
    assert cmd.nonce and cmd.sig
    wire = encode(cmd)
    assert verify_command(json.loads(wire), SECRET, now=NOW, seen_nonce=seen_never) == cmd
    # bytes and Envelope inputs are accepted too
    assert verify_command(wire, SECRET, now=NOW, seen_nonce=seen_never) == cmd
    assert verify_command(cmd, SECRET, now=NOW, seen_nonce=seen_never) == cmd


def verify_code(payload, *, secret=SECRET, now=NOW, seen=seen_never) -> str:
    with pytest.raises(ProtocolError) as info:
        verify_command(payload, secret, now=now, seen_nonce=seen)
    return info.value.code


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["data"].update(task_id="43"),
        lambda d: d.update(type="lock.lock"),
        lambda d: d.update(seq=2),
        lambda d: d.update(expires_at="2025-03-01T09:30:00.000Z"),
        lambda d: d.update(nonce="f" * 32),
        lambda d: d.update(sig="0" * 64),
        lambda d: d.pop("sig"),
    ],
)
def test_tampered_command_is_rejected(tamper):
    cmd = make_command("lock.unlock", {"task_id": "42"}, seq=1, secret=SECRET, now=NOW).to_dict()
    cmd = json.loads(json.dumps(cmd))  # a deep copy, as it arrives
    tamper(cmd)
    assert verify_code(cmd) == "bad_signature"


def _flip(hex_char: str) -> str:
    return "0" if hex_char != "0" else "1"


@pytest.mark.parametrize("position", [63, 62, 32, 8, 0])
def test_a_signature_changed_in_one_hex_character_is_refused(position):
    """Every character of the signature counts, the last one too (a comparison of only a
    prefix of it passed a signature changed at its end)."""
    cmd = make_command("lock.arm", {"task_id": "42"}, seq=1, secret=SECRET, now=NOW).to_dict()
    assert verify_command(dict(cmd), SECRET, now=NOW, seen_nonce=seen_never)
    sig = cmd["sig"]
    cmd["sig"] = sig[:position] + _flip(sig[position]) + sig[position + 1 :]
    assert len(cmd["sig"]) == 64 and cmd["sig"] != sig
    assert verify_code(cmd) == "bad_signature"


def test_sealed_code_is_kept_as_a_marker_and_sent_as_an_hmac_of_the_lock_secret():
    sealed = SealedCode("T-7", "004711")
    args = {"task_id": "T-7", "code_mac": sealed, "valid_for_s": 120}
    stored = stored_args(args)
    assert stored == {"task_id": "T-7", "code_mac": SEALED, "valid_for_s": 120}
    assert "004711" not in repr(args) and "004711" not in str(sealed)
    wire = wire_args(args, SECRET)
    assert wire["code_mac"] == code_mac(SECRET, "T-7", "004711")
    assert wire["code_mac"] != code_mac(b"another-device-secret", "T-7", "004711")
    assert wire["code_mac"] != code_mac(SECRET, "T-8", "004711")  # bound to its task
    plain = {hashlib.sha256(t.encode()).hexdigest() for t in ("004711", "T-7:004711")}
    assert wire["code_mac"] not in plain
    with pytest.raises(ValueError):
        code_mac(b"", "T-7", "004711")


def test_command_with_wrong_secret_is_rejected():
    cmd = make_command("lock.unlock", {}, seq=1, secret=SECRET, now=NOW)
    assert verify_code(cmd.to_dict(), secret=b"another-device-secret") == "bad_signature"


def test_unsigned_envelope_is_not_a_command():
    env = make_envelope("lock.unlock", {}, seq=1, now=NOW).to_dict()
    assert verify_code(env) == "bad_signature"
    no_nonce = sign_command({**env, "expires_at": "2025-03-01T08:32:00Z"}, SECRET)
    assert verify_code(no_nonce) == "bad_signature"


def test_expired_command_is_rejected():
    cmd = make_command("lock.unlock", {}, seq=1, secret=SECRET, ttl_s=60, now=NOW).to_dict()
    assert verify_code(cmd, now=NOW + timedelta(seconds=60)) == "expired"
    assert verify_code(cmd, now=NOW + timedelta(hours=1)) == "expired"


def test_replayed_nonce_is_rejected_and_checked_last():
    cache = NonceCache()
    cmd = make_command("lock.unlock", {}, seq=1, secret=SECRET, now=NOW).to_dict()
    verify_command(cmd, SECRET, now=NOW, seen_nonce=cache)
    assert verify_code(cmd, seen=cache) == "replayed"
    # A forged copy never reaches the nonce memory, so it cannot burn a nonce.
    calls = []
    forged = {**cmd, "nonce": "a" * 32}
    assert verify_code(forged, seen=lambda n: calls.append(n) or False) == "bad_signature"
    assert calls == []


def test_nonce_cache_expires_and_caps_entries():
    clock = [NOW]
    cache = NonceCache(ttl_s=60, max_entries=3, clock=lambda: clock[0])
    assert cache("n1") is False
    assert cache("n1") is True
    clock[0] = NOW + timedelta(seconds=61)
    assert cache("n1") is False  # forgotten after ttl
    for nonce in ("n2", "n3", "n4"):
        cache(nonce)
    assert len(cache) <= 3


def test_make_command_validates_ttl():
    with pytest.raises(ValueError):
        make_command("lock.unlock", {}, 1, SECRET, ttl_s=0, now=NOW)
    with pytest.raises(ValueError):
        make_command("lock.unlock", {}, 1, b"", now=NOW)


# --------------------------------------------------------------------------- acks


def test_ack_round_trip():
    cmd = make_command("lock.unlock", {}, seq=1, secret=SECRET, now=NOW)
    ack = make_ack(cmd.id, "rejected", "expired", seq=9, now=NOW)
    decoded = decode_envelope(encode(ack), now=NOW)
    assert decoded.type == "cmd.ack"
    assert parse_ack(decoded) == protocol.Ack(cmd.id, "rejected", "expired")


def test_bad_acks():
    with pytest.raises(ValueError):
        make_ack(str(uuid.uuid4()), "maybe", "", seq=1, now=NOW)
    env = Envelope(id=str(uuid.uuid4()), ts="2025-03-01T08:30:00Z", seq=1, type="cmd.ack", data={})
    with pytest.raises(ProtocolError) as info:
        parse_ack(env)
    assert info.value.code == "bad_ack"


def test_decode_envelope_ts_matches_decode_envelope():
    env = protocol.make_envelope("counter.stats", {"n": 1}, 3)
    payload = protocol.encode(env)
    decoded, ts = protocol.decode_envelope_ts(payload, max_skew_s=None)
    assert decoded == protocol.decode_envelope(payload, max_skew_s=None)
    assert ts == decoded.timestamp
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_envelope_ts(b"{}", max_skew_s=None)
