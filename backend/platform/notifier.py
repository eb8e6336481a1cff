"""Messages to people outside the bank's screens (SMS, mini-program messages): one interface,
provider adapters chosen by configuration. Area-neutral: marketing's campaigns send through it,
and so may any other area (the RPA issue reuses it).

- ``FakeNotifier`` (``FINEDGE_NOTIFIER=fake``, the demo and test default): keeps what was sent in
  memory and appends it to a JSON-lines file under the var dir (``notifier/sent.jsonl``), so the
  demo shows what would have left and tests can read it.
- ``HttpSmsNotifier`` (``FINEDGE_NOTIFIER=http``): a generic SMS gateway. One JSON POST per
  message to ``FINEDGE_SMS_GATEWAY_URL``, signed with HMAC-SHA256 over ``"<timestamp>.<body>"``
  keyed with ``FINEDGE_SMS_GATEWAY_SECRET`` (headers ``X-Timestamp``, ``X-Signature``,
  ``Idempotency-Key``: the message's key, so a retried POST is not sent twice by a gateway that
  honours it); a timeout per attempt and a few retries with back-off on connection errors and
  5xx; a 4xx is final. The secret is never logged or put in a receipt.
- ``NoNotifier`` (``none``, the production default until a provider is configured): every
  message fails with ``notifier_not_configured``; nothing leaves silently.

Mini-program messages (channel ``miniapp``) never leave the bank: whoever sends one keeps it
for the recipient's login to read (marketing keeps it as the contact row) and the notifier only
records it (``InboxNotifier`` in front of any SMS adapter).

Recipients are references the provider resolves (a core-banking client number for the bank's
SMS gateway, a FinEdge user id for the mini-program): FinEdge holds no phone numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from backend.platform.clock import isoformat, utcnow

log = logging.getLogger(__name__)

PROVIDERS = ("fake", "http", "none")
CHANNELS = ("sms", "miniapp")


@dataclass(frozen=True)
class Message:
    channel: str  # sms | miniapp
    to: str  # the provider's reference of the recipient (client number, user id)
    body: str
    key: str  # the sender's idempotency key of this message
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    provider: str
    status: str  # sent | failed
    ref: str | None = None
    error: str | None = None

    @property
    def sent(self) -> bool:
        return self.status == "sent"


class Notifier(Protocol):
    name: str

    def send(self, message: Message) -> Receipt: ...


class FakeNotifier:
    """Keeps every message: ``sent`` in memory, and one JSON line each in ``path``."""

    name = "fake"

    def __init__(self, path: Path | None = None):
        self.path = path
        self.sent: list[dict] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> Receipt:
        if message.channel not in CHANNELS:
            return Receipt(self.name, "failed", error="unknown_channel")
        ref = f"fake-{uuid.uuid4().hex[:16]}"
        row = {**asdict(message), "ref": ref, "at": isoformat(utcnow())}
        with self._lock:
            self.sent.append(row)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return Receipt(self.name, "sent", ref=ref)


class NoNotifier:
    name = "none"

    def send(self, message: Message) -> Receipt:
        return Receipt(self.name, "failed", error="notifier_not_configured")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The gateway's signature: hex HMAC-SHA256 of ``timestamp + "." + body``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class HttpSmsNotifier:
    """A generic SMS gateway over HTTP (JSON POST, HMAC-signed, timeout, retries)."""

    name = "http"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.2,
    ):
        if not url.startswith(("http://", "https://")):
            raise ValueError("the SMS gateway URL must be http:// or https://")
        self.url = url
        self._secret = secret
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s

    def __repr__(self) -> str:  # never the secret
        return f"HttpSmsNotifier(url={self.url!r})"

    def send(self, message: Message) -> Receipt:
        import requests  # loaded when a gateway is used

        if message.channel != "sms":
            return Receipt(self.name, "failed", error="unknown_channel")
        body = json.dumps(
            {"key": message.key, "to": message.to, "body": message.body},
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        error = "unreachable"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Timestamp": timestamp,
                "X-Signature": sign(self._secret, timestamp, body),
                "Idempotency-Key": message.key,
            }
            try:
                response = requests.post(
                    self.url, data=body, headers=headers, timeout=self.timeout_s
                )
            except requests.RequestException as exc:
                error = "unreachable"
                log.warning(
                    "SMS gateway %s: %s (attempt %d)", self.url, type(exc).__name__, attempt
                )
                continue
            if response.status_code >= 500:
                error = f"gateway_{response.status_code}"
                log.warning("SMS gateway %s answered %d", self.url, response.status_code)
                continue
            if response.status_code >= 400:
                return Receipt(self.name, "failed", error=f"gateway_{response.status_code}")
            try:
                ref = str(response.json().get("id") or "")[:80] or None
            except (ValueError, AttributeError):
                ref = None
            return Receipt(self.name, "sent", ref=ref)
        return Receipt(self.name, "failed", error=error)


class InboxNotifier:
    """Mini-program messages stay in the bank (the sender keeps them for the recipient's
    login); SMS goes to ``sms``. A mini-program message needs a recipient login (``to``)."""

    def __init__(self, sms: Notifier):
        self.sms = sms
        self.name = sms.name

    def send(self, message: Message) -> Receipt:
        if message.channel == "miniapp":
            if not message.to:
                return Receipt("inbox", "failed", error="no_login")
            if isinstance(self.sms, FakeNotifier):  # the demo keeps a copy of everything
                self.sms.send(message)
            return Receipt("inbox", "sent", ref=f"inbox-{message.key}"[:80])
        return self.sms.send(message)


def build_notifier(config) -> Notifier:
    """The notifier the configuration names (``Config.notifier`` and the gateway fields)."""
    from backend.platform.config import var_dir

    provider = getattr(config, "notifier", "fake")
    if provider == "fake":
        sms: Notifier = FakeNotifier(var_dir() / "notifier" / "sent.jsonl")
    elif provider == "http":
        sms = HttpSmsNotifier(
            config.sms_gateway_url,
            config.sms_gateway_secret,
            timeout_s=config.notifier_timeout_s,
            retries=config.notifier_retries,
        )
    else:
        sms = NoNotifier()
    return InboxNotifier(sms)


_KEY = "finedge.notifier"


def notifier_of(session) -> Notifier:
    """The process's notifier, for work on ``session``: the one a test installed
    (``session.info["finedge.notifier"]`` or ``wiring.provide(Notifier, …)``), else built once
    per wiring from its configuration."""
    from backend.platform.wiring import wiring_of

    installed = session.info.get(_KEY)
    if installed is not None:
        return installed
    wiring = wiring_of(session)
    if not wiring.has(Notifier):
        wiring.provide(Notifier, lambda w: build_notifier(w.config), lazy=True)
    return wiring.get(Notifier)
