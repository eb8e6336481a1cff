"""Pure clearing rules: the instruction's form, the order state machine, the replay's
determinism, and the request signature."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.clearing import rules, signing
from backend.platform.errors import BusinessRuleViolation, ValidationFailed

D = Decimal


def test_partial_bargains_then_delivery():
    s = rules.step(None, "order", D("100.00"), D("1.00")).state
    s = rules.step(s, "bargain", D("30.00"), D("0.50")).state
    assert (s.status, s.open_amount, s.bargained, s.hold_total) == (
        "open",
        D("70.00"),
        D("30.00"),
        D("101.50"),
    )
    s = rules.step(s, "bargain", D("70.00"), D("0.00")).state
    assert s.status == "bargained"
    with pytest.raises(BusinessRuleViolation) as info:
        rules.step(s, "delivery", D("100.01"), D("0"))
    assert info.value.code == "delivery_exceeds_bargain"
    done = rules.step(s, "delivery", D("100.00"), D("2.00"), D("1.00"))
    assert (done.pays, done.receives, done.state.hold_total) == (D("103.00"), D("100.00"), 0)
    with pytest.raises(BusinessRuleViolation) as info:
        rules.step(done.state, "cancel", D("0"), D("0"))
    assert info.value.code == "order_already_delivered"


@pytest.mark.parametrize(
    "body",
    [
        {"id": "A1", "account": "X", "seq": 1, "kind": "order", "order": "O", "amount": "1.001"},
        {"id": "A1", "account": "X", "seq": 1, "kind": "order", "order": "O", "amount": "Infinity"},
        {"id": "A1", "account": "X", "seq": True, "kind": "order", "order": "O", "amount": "1"},
        {"id": "A 1", "account": "X", "seq": 1, "kind": "order", "order": "O", "amount": "1"},
        {"id": "A1", "account": "X", "seq": 1, "kind": "cancel", "order": "O", "amount": "1"},
        {"id": "A1", "account": "X", "seq": 1, "kind": "delivery", "order": "O", "amount": "1"},
        {
            "id": "A1",
            "account": "X",
            "seq": 1,
            "kind": "order",
            "order": "O",
            "amount": "1",
            "trade_date": "2026-13-01",
        },
        ["not", "an", "object"],
    ],
)
def test_malformed_instructions(body):
    with pytest.raises(ValidationFailed):
        rules.parse_instruction(body)


def test_replay_is_deterministic_whatever_order_the_log_comes_in():
    rng = random.Random(7)
    log, seqs = [], {1: 0, 2: 0}
    for k in range(40):
        acc = rng.choice([1, 2])
        seqs[acc] += 1
        amount = D(rng.randint(1, 900)) / 100
        log.append(rules.LogEntry(acc, seqs[acc], "order", f"O{k}", amount, D("0.10"), D(0), None))
        seqs[acc] += 1
        log.append(rules.LogEntry(acc, seqs[acc], "bargain", f"O{k}", amount, D(0), D(0), None))
        if rng.random() < 0.5:
            seqs[acc] += 1
            log.append(
                rules.LogEntry(
                    acc, seqs[acc], "delivery", f"O{k}", amount, D("0.01"), D("0.02"), 3 - acc
                )
            )
    fundings = [(1, D("1000.00")), (2, D("1000.00"))]
    first = rules.replay(fundings, log)
    for _ in range(5):
        rng.shuffle(log)
        assert rules.replay(fundings, log) == first
    assert sum(e.balance for e in first.values()) < D("2000.00")  # fees left the two accounts


def test_signature_covers_method_path_time_nonce_and_body():
    now = datetime(2026, 12, 4, tzinfo=UTC)
    h = signing.sign_headers("s3cret", "CCH1", "POST", "/p", b"{}", now=now, nonce="abcdefgh")
    args = ("POST", "/p", h["X-Timestamp"], "abcdefgh", b"{}")
    assert signing.check_signature("s3cret", *args, h["X-Signature"])
    assert not signing.check_signature("other", *args, h["X-Signature"])
    assert not signing.check_signature(
        "s3cret", "POST", "/p", h["X-Timestamp"], "abcdefgh", b"{ }", h["X-Signature"]
    )
    assert not signing.check_signature(
        "s3cret", "GET", "/p", h["X-Timestamp"], "abcdefgh", b"{}", h["X-Signature"]
    )


def test_the_simulator_waits_for_the_bank_and_gives_up_at_its_deadline():
    import socket

    from backend.clearing.sim import UrlTransport

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    now = [0.0]
    pauses = []

    def pause(s):
        pauses.append(s)
        now[0] += s

    transport = UrlTransport(f"http://127.0.0.1:{port}", timeout_s=1)
    with pytest.raises(TimeoutError, match="did not answer"):
        transport.wait_ready(5, clock=lambda: now[0], pause=pause)
    transport.close()
    assert now[0] >= 5 and max(pauses) <= 2.0 and pauses[:3] == [0.1, 0.2, 0.4]
