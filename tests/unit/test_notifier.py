"""The notifier's adapters: the local fake, the HTTP SMS gateway (a local server in the test:
HMAC signature, retries on 5xx, a 4xx final, a timeout), the mini-program inbox, and the
configuration that picks them."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.platform.config import Config, ConfigError
from backend.platform.notifier import (
    FakeNotifier,
    HttpSmsNotifier,
    InboxNotifier,
    Message,
    NoNotifier,
    build_notifier,
    sign,
)

SECRET = "gateway-secret-0123456789"


class Gateway:
    """A local SMS gateway: answers from ``plan`` (status codes, in turn; then 200)."""

    def __init__(self, plan=(), delay_s: float = 0.0):
        self.plan = list(plan)
        self.received: list[dict] = []
        self.delay = threading.Event()
        self.delay_s = delay_s
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = self.headers["X-Signature"] == sign(SECRET, self.headers["X-Timestamp"], body)
                gateway.received.append(
                    {"body": json.loads(body), "signed": ok, "key": self.headers["Idempotency-Key"]}
                )
                if gateway.delay_s:
                    gateway.delay.wait(gateway.delay_s)
                status = gateway.plan.pop(0) if gateway.plan else 200
                payload = json.dumps({"id": f"gw-{len(gateway.received)}"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.delay.set()
        self.server.shutdown()
        self.server.server_close()


def msg(key="k1", channel="sms", to="C00500000001"):
    return Message(channel=channel, to=to, body="您好王芳", key=key)


def test_http_gateway_signs_retries_5xx_and_keeps_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    with Gateway(plan=[503, 502]) as gw:
        notifier = HttpSmsNotifier(gw.url, SECRET, timeout_s=2, retries=2, backoff_s=0.01)
        receipt = notifier.send(msg())
    assert receipt.sent and receipt.ref == "gw-3" and receipt.provider == "http"
    assert len(gw.received) == 3 and all(r["signed"] for r in gw.received)
    assert {r["key"] for r in gw.received} == {"k1"}
    assert gw.received[0]["body"] == {"body": "您好王芳", "key": "k1", "to": "C00500000001"}
    assert SECRET not in caplog.text and SECRET not in repr(notifier)


def test_http_gateway_gives_up_after_its_retries_and_on_a_4xx():
    with Gateway(plan=[500, 500, 500, 500]) as gw:
        receipt = HttpSmsNotifier(gw.url, SECRET, retries=1, backoff_s=0.01).send(msg())
        assert not receipt.sent and receipt.error == "gateway_500" and len(gw.received) == 2
    with Gateway(plan=[400]) as gw:
        receipt = HttpSmsNotifier(gw.url, SECRET, retries=3, backoff_s=0.01).send(msg())
        assert receipt.error == "gateway_400" and len(gw.received) == 1


def test_http_gateway_times_out():
    with Gateway(delay_s=5) as gw:
        receipt = HttpSmsNotifier(gw.url, SECRET, timeout_s=0.2, retries=0).send(msg())
    assert not receipt.sent and receipt.error == "unreachable"


def test_fake_keeps_messages_in_memory_and_in_a_jsonl_file(tmp_path):
    path = tmp_path / "notifier" / "sent.jsonl"
    fake = FakeNotifier(path)
    inbox = InboxNotifier(fake)
    assert inbox.send(msg("a")).sent
    miniapp = inbox.send(msg("b", channel="miniapp", to="42"))
    assert miniapp.sent and miniapp.provider == "inbox"
    assert not inbox.send(msg("c", channel="miniapp", to="")).sent  # no login
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["key"] for x in lines] == ["a", "b"] == [x["key"] for x in fake.sent]
    assert lines[0]["body"] == "您好王芳"
    assert NoNotifier().send(msg()).error == "notifier_not_configured"


def test_configuration_picks_the_adapter():
    env = {"FINEDGE_ENV": "test"}
    assert Config.from_env(env).notifier == "fake"
    assert isinstance(build_notifier(Config.from_env(env)).sms, FakeNotifier)
    http = Config.from_env(
        {
            **env,
            "FINEDGE_NOTIFIER": "http",
            "FINEDGE_SMS_GATEWAY_URL": "https://sms.bank/send",
            "FINEDGE_SMS_GATEWAY_SECRET": SECRET,
            "FINEDGE_NOTIFIER_ATTEMPTS": "4",
        }
    )
    assert isinstance(build_notifier(http).sms, HttpSmsNotifier) and http.notifier_retries == 3
    assert SECRET not in repr(http)
    for bad in (
        {"FINEDGE_NOTIFIER": "carrier-pigeon"},
        {"FINEDGE_NOTIFIER": "http"},
        {
            "FINEDGE_NOTIFIER": "http",
            "FINEDGE_SMS_GATEWAY_URL": "ftp://x",
            "FINEDGE_SMS_GATEWAY_SECRET": SECRET,
        },
        {
            "FINEDGE_NOTIFIER": "http",
            "FINEDGE_SMS_GATEWAY_URL": "https://x",
            "FINEDGE_SMS_GATEWAY_SECRET": "short",
        },
        {"FINEDGE_NOTIFIER_ATTEMPTS": "0"},
    ):
        with pytest.raises(ConfigError):
            Config.from_env({**env, **bad})
    prod = {"FINEDGE_ENV": "production", "FINEDGE_SECRET_KEY": "x" * 40}
    assert Config.from_env(prod).notifier == "none"
    with pytest.raises(ConfigError):
        Config.from_env({**prod, "FINEDGE_NOTIFIER": "fake"})
