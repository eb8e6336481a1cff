"""Commands to devices: sign, send once, wait for the ack, record the outcome.

The command's id is the envelope's id, chosen before anything is sent and committed with the
command row (status ``pending``). A retry with the same id finds the row and returns its
status without sending again; this is what makes a command exactly-once from the caller's side
(the device adds its own protection: a nonce it has seen is refused).

Each step is its own short transaction, because the outside world is involved: the row
commits before the publish, ``sent`` after it, and the outcome when the ack arrives (the ingest
writes it; first terminal ack wins) or ``timeout`` after ``wait_s``. A late ack still records
the device's answer. Waiting is in memory (the ingest calls ``on_ack``) with a database poll
as a fallback, so it also works when the ingest runs in another process.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.devices import service
from backend.devices.models import Device, DeviceCommand
from backend.devices.secretbox import SecretBox
from backend.platform.clock import utcnow
from backend.platform.context import Actor
from backend.platform.db import run_in_transaction
from backend.platform.errors import ValidationFailed
from edge.credentials import secret_bytes
from edge.protocol import (
    build_topic,
    canonical_json,
    format_ts,
    make_envelope,
    sign_command,
    stored_args,
    wire_args,
)

log = logging.getLogger(__name__)

MAX_WAIT_S = 30.0


class CommandTransport(Protocol):
    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        *,
        timeout: float = 10.0,
    ) -> None: ...


def signed_command_payload(
    command_id: str,
    name: str,
    args: dict[str, Any],
    seq: int,
    secret: bytes,
    *,
    now: datetime,
    ttl_s: float,
) -> tuple[bytes, datetime]:
    """The signed envelope (its id is the command id) and its expiry."""
    expires = now + timedelta(seconds=ttl_s)
    env = make_envelope(name, args, seq, now=now).replace(
        id=command_id, expires_at=format_ts(expires), nonce=secrets.token_hex(16)
    )
    return canonical_json(sign_command(env.to_dict(), secret)), expires


class CommandDispatcher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        box: SecretBox,
        transport: CommandTransport | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        default_wait_s: float = 5.0,
        ttl_s: float = 30.0,
        poll_s: float = 0.25,
    ) -> None:
        self.session_factory = session_factory
        self.box = box
        self.transport = transport
        self.clock = clock
        self.default_wait_s = default_wait_s
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self._waiters: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def on_ack(self, command_id: str, _status: str) -> None:
        with self._lock:
            waiter = self._waiters.get(command_id)
        if waiter is not None:
            waiter.set()

    def _view(self, command_id: str) -> dict[str, Any]:
        with self.session_factory() as session:
            row = session.execute(
                select(DeviceCommand, Device.device_id)
                .join(Device, Device.id == DeviceCommand.device_pk)
                .where(DeviceCommand.command_id == command_id)
            ).one()
            return service.command_view(row[0], row[1])

    def _set_status(self, command_id: str, status: str, reason: str, **values: Any) -> None:
        def work(session: Session) -> None:
            session.execute(
                update(DeviceCommand)
                .where(
                    DeviceCommand.command_id == command_id,
                    DeviceCommand.status.in_(("pending", "sent")),
                )
                .values(status=status, reason=reason[:200], **values)
            )

        run_in_transaction(self.session_factory, work)

    def send(
        self,
        actor: Actor,
        device_id: str,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        command_id: str | None = None,
        wait_s: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """(command view, created). ``wait_s`` 0 returns right after sending (status sent).

        A ``SealedCode`` among ``args`` (edge/protocol/sealed.py) is sealed with the device's
        secret only in the signed payload; the row, its view and the audit log keep ``SEALED``.
        """
        if command_id is not None:
            try:
                command_id = str(uuid.UUID(command_id))
            except ValueError:
                raise ValidationFailed("id must be a UUID", details={"id": ["a UUID"]}) from None
        command_id = command_id or str(uuid.uuid4())
        wait_s = self.default_wait_s if wait_s is None else wait_s
        if not 0 <= wait_s <= MAX_WAIT_S:
            raise ValidationFailed("wait_s out of range", details={"wait_s": [f"0..{MAX_WAIT_S}"]})
        now = self.clock()
        given = dict(args or {})

        def create(session: Session):
            command, device, created = service.create_command(
                session, actor, device_id, name, stored_args(given), command_id, now=now
            )
            if not created:
                return None
            secret = secret_bytes(self.box.decrypt(device.hmac_secret_enc or ""))
            payload, expires = signed_command_payload(
                command_id,
                name,
                wire_args(given, secret),
                device.command_seq,
                secret,
                now=now,
                ttl_s=self.ttl_s,
            )
            command.expires_at = expires
            topic = build_topic(device.branch_id, device.device_type, device.device_id, "cmd")
            return topic, payload

        try:
            prepared = run_in_transaction(self.session_factory, create)
        except IntegrityError:  # the same id sent concurrently: the other request owns it
            prepared = None
        if prepared is None:
            return self._view(command_id), False  # the same id again: never sent twice
        topic, payload = prepared
        waiter = threading.Event()
        with self._lock:
            self._waiters[command_id] = waiter
        try:
            if self.transport is None:
                self._set_status(command_id, "failed", "not sent: no MQTT link in this process")
                return self._view(command_id), True
            try:
                self.transport.publish(topic, payload, qos=1, timeout=5.0)
            except Exception as exc:
                log.warning("command %s to %s not sent: %s", command_id, device_id, exc)
                self._set_status(command_id, "failed", f"not sent: {exc}")
                return self._view(command_id), True
            self._mark_sent(command_id)
            if wait_s > 0:
                self._wait(command_id, waiter, wait_s)
            return self._view(command_id), True
        finally:
            with self._lock:
                self._waiters.pop(command_id, None)

    def _mark_sent(self, command_id: str) -> None:
        def work(session: Session) -> None:
            session.execute(
                update(DeviceCommand)
                .where(DeviceCommand.command_id == command_id, DeviceCommand.status == "pending")
                .values(status="sent", sent_at=self.clock())
            )
            # The ack may already have been written: only the sent time then.
            session.execute(
                update(DeviceCommand)
                .where(DeviceCommand.command_id == command_id, DeviceCommand.sent_at.is_(None))
                .values(sent_at=self.clock())
            )

        run_in_transaction(self.session_factory, work)

    def _wait(self, command_id: str, waiter: threading.Event, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            if self._view(command_id)["status"] not in ("pending", "sent"):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            waiter.wait(min(self.poll_s, remaining))
            waiter.clear()
        self._set_status(command_id, "timeout", f"no ack within {wait_s:g} s")


class DispatcherLink:
    """A ``DeviceLink`` (backend.platform.ports) for a process without a device hub: commands
    go through the dispatcher's transport (a command link's own MQTT client; None records them
    ``failed``: "no MQTT link in this process"), and the acks reach the database through the
    hub that ingests them, where the dispatcher waits for them. Registry and queue changes need
    no telling: the hub finds them by polling."""

    def __init__(self, dispatcher: CommandDispatcher) -> None:
        self.commands = dispatcher

    def send(
        self,
        actor: Actor,
        device_id: str,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        command_id: str | None = None,
        wait_s: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        return self.commands.send(
            actor, device_id, name, args, command_id=command_id, wait_s=wait_s
        )

    def registry_changed(self) -> None:
        """The hub of another process polls the registries."""

    def queue_changed(self, branch_id: str) -> None:
        """The hub of another process polls the queues."""
