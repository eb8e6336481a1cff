"""The device link of a process that runs no hub (a web instance, the scheduler, ``finedge jobs
run``): its own MQTT client on the central broker publishes signed commands; the hub that
ingests the devices' acks records them, and the sender waits for them on the database.

The client connects on the first command and stays connected (its own client id, so it never
throws a hub or another instance off the broker). Without a broker to reach, a command ends
``failed`` with the reason, as the device API reports it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from backend.devices.commands import CommandDispatcher, DispatcherLink
from backend.devices.secretbox import SecretBox
from backend.platform.config import Config
from backend.platform.mqtt import MqttClient, MqttConnectError, MqttPublishError, parse_mqtt_url
from backend.platform.mqtt.central import BACKEND_USER, login_password

log = logging.getLogger(__name__)

EMBEDDED_CENTRAL_URL = "mqtt://127.0.0.1:18830"  # ``finedge serve``'s default broker


def central_url(config: Config) -> str:
    """MQTT_URL, or the embedded central broker of ``finedge serve`` with the backend's login
    (derived from FINEDGE_SECRET_KEY, which the processes of one installation share)."""
    url = config.mqtt_url or EMBEDDED_CENTRAL_URL
    if parse_mqtt_url(url)[2] is None:
        credentials = f"{BACKEND_USER}:{quote(login_password(config.secret_key, BACKEND_USER))}"
        parts = urlsplit(url)
        url = parts._replace(netloc=f"{credentials}@{parts.netloc}").geturl()
    return url


class LazyPublisher:
    """Publishes on the central broker, connecting on first use (and again after a failure)."""

    def __init__(self, url: str, client_id: str, *, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.client_id = client_id
        self.connect_timeout = connect_timeout
        self._client: MqttClient | None = None
        self._lock = threading.Lock()

    def _connected(self) -> MqttClient:
        with self._lock:
            if self._client is None:
                client = MqttClient(self.url, self.client_id, reconnect_max_delay=5.0)
                try:
                    client.connect(timeout=self.connect_timeout)
                except MqttConnectError as exc:
                    client.close()
                    raise MqttPublishError(f"central broker not reachable: {exc}") from exc
                self._client = client
            return self._client

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._connected().publish(topic, payload, qos=qos, retain=retain, timeout=timeout)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class CommandLink(DispatcherLink):
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        config: Config,
        *,
        role: str,
        wait_s: float = 5.0,
    ) -> None:
        client_id = f"finedge-{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.publisher = LazyPublisher(central_url(config), client_id)
        super().__init__(
            CommandDispatcher(
                session_factory,
                SecretBox(config.secret_key),
                self.publisher,
                default_wait_s=wait_s,
            )
        )

    def close(self) -> None:
        self.publisher.close()
