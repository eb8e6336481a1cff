"""Mosquitto's dynamic security plugin, driven over its control topic: accounts kept equal to
what the application says, with no password file, no ACL file and no broker restart.

The plugin (``mosquitto_dynamic_security.so``, Mosquitto 2.0) keeps clients, roles and the
roles' ACLs in its own JSON file and takes changes from an admin login as JSON commands
published on ``$CONTROL/dynamic-security/v1``; it answers on ``.../response`` (in the order
of the commands, echoing each one's ``correlationData``) and saves its file after each change.
Deleting, disabling or changing the password of a client disconnects its live connections at
once (``mosquitto_kick_client_by_username``), so a change is in force for the next packet.

- ``DynsecAdmin``: one admin connection; ``execute`` sends commands and waits for their
  answers (``DynsecError`` for a refusal that matters).
- ``Account``: a login as the application wants it: username, clear password (the plugin
  stores only its own salted PBKDF2-SHA512 hash; 2.0's commands take nothing else), a
  fingerprint of that password (kept in the client's ``textdescription``, so a later pass
  knows which password the broker holds without reading it), and its ACLs. Each account gets
  a role of its own, ``<tag>:<username>``, holding exactly its ACLs.
- ``reconcile(admin, accounts, tag=...)``: makes the broker's clients tagged ``tag`` (their
  ``textname``) exactly ``accounts``: creates what is missing, sets a changed password, puts
  the role's ACLs right (and takes any other role or group off the client), enables, and
  deletes tagged clients no longer wanted. Clients with
  another tag (the admin, hand-made ones) are left alone unless an account claims the name.
  It also sets the default access (``DEFAULT_ACCESS``): a login may do only what its roles
  allow.
  Idempotent: a pass over an unchanged broker sends nothing and disconnects nobody.

Mosquitto 2.0.11 does not expand ``%u`` in dynsec ACL topics (tested), hence a role per login.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.platform.mqtt.client import MqttClient
from backend.platform.mqtt.messages import Message, MqttError

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
COMMANDS_PER_MESSAGE = 100  # keeps one control message far below max_packet_size (128 KiB)
LIST_PAGE = 500

PUBLISH_SEND = "publishClientSend"
PUBLISH_RECEIVE = "publishClientReceive"
SUBSCRIBE = "subscribePattern"

# What a login may do where no role of its says otherwise: nothing but unsubscribe. (The
# plugin's own default lets every client receive whatever its subscriptions match; with no
# subscription allowed outside a role that is moot, but a role-less client gets nothing.)
DEFAULT_ACCESS = {
    PUBLISH_SEND: False,
    PUBLISH_RECEIVE: False,
    "subscribe": False,
    "unsubscribe": True,
}

# Answers that mean "already as wanted" when two processes reconcile at the same time.
_HARMLESS = {
    "createRole": "Role already exists",
    "createClient": "Client already exists",
    "deleteRole": "Role not found",
    "deleteClient": "Client not found",
}


class DynsecError(MqttError):
    """The plugin refused a command, or did not answer in time."""


@dataclass(frozen=True, order=True)
class Acl:
    acltype: str
    topic: str
    allow: bool = True
    priority: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "acltype": self.acltype,
            "topic": self.topic,
            "allow": self.allow,
            "priority": self.priority,
        }


def acls_for(rules: Iterable[tuple[str, str]]) -> tuple[Acl, ...]:
    """Mosquitto ``acl_file`` rules (``read``, ``write`` or ``readwrite``, filter) as dynsec
    ACLs: read is receiving and subscribing under the filter, write is publishing to it."""
    acls: set[Acl] = set()
    for access, topic in rules:
        if access not in ("read", "write", "readwrite"):
            raise ValueError(f"unknown access {access!r}")
        if access in ("read", "readwrite"):
            acls |= {Acl(PUBLISH_RECEIVE, topic), Acl(SUBSCRIBE, topic)}
        if access in ("write", "readwrite"):
            acls.add(Acl(PUBLISH_SEND, topic))
    return tuple(sorted(acls))


def fingerprint(secret: str, username: str) -> str:
    """What a client's ``textdescription`` records of its password: a keyed digest that tells
    two passwords apart without revealing either (the key is the username: no two logins'
    fingerprints of one password are alike)."""
    digest = hmac.new(username.encode(), secret.encode(), hashlib.sha256).hexdigest()
    return "fp:" + digest[:32]


@dataclass(frozen=True)
class Account:
    """``password`` None: the application cannot say it (the broker keeps the one it has if
    its fingerprint still matches; a client whose password changed is disabled instead)."""

    username: str
    password: str | None
    fingerprint: str
    acls: tuple[Acl, ...]


@dataclass
class ReconcileResult:
    created: list[str] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)  # password set (its connections kicked)
    roles: list[str] = field(default_factory=list)  # ACLs changed
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # wanted, but no password to create it
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (self.created, self.passwords, self.roles, self.enabled, self.disabled, self.deleted)
        )

    def summary(self) -> str:
        parts = [
            f"{name} {', '.join(values)}"
            for name, values in vars(self).items()
            if values and name != "errors"
        ]
        return "; ".join(parts) or "unchanged"


def role_name(tag: str, username: str) -> str:
    return f"{tag}:{username}"


class DynsecAdmin:
    """An admin connection to the plugin (the login needs the ``admin`` role that
    ``mosquitto_ctrl dynsec init`` creates). Thread-safe: one command batch at a time."""

    def __init__(
        self,
        url: str,
        client_id: str | None = None,
        *,
        on_connected: Any = None,
        reconnect_max_delay: float = 5.0,
    ) -> None:
        self._client = MqttClient(
            url,
            client_id or f"dynsec-admin-{uuid.uuid4().hex[:8]}",
            on_connected=on_connected,
            reconnect_max_delay=reconnect_max_delay,
        )
        self.username = self._client.username
        self._lock = threading.Lock()  # one batch at a time
        self._answers: dict[str, dict[str, Any]] = {}
        self._answered = threading.Condition()

    def connect(self, timeout: float = 10.0) -> DynsecAdmin:
        self._client.subscribe(RESPONSE_TOPIC, self._on_response, qos=1)
        self._client.connect(timeout)
        return self

    @property
    def connected(self) -> bool:
        return self._client.connected

    def wait_connected(self, timeout: float) -> bool:
        return self._client.wait_connected(timeout)

    def close(self) -> None:
        self._client.close()

    def _on_response(self, message: Message) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            log.warning("dynsec: unreadable answer %r", message.payload[:200])
            return
        with self._answered:
            for response in responses:
                key = response.get("correlationData") if isinstance(response, dict) else None
                if isinstance(key, str):
                    self._answers[key] = response
            self._answered.notify_all()

    def execute(
        self, commands: list[dict[str, Any]], *, timeout: float = 10.0, check: bool = True
    ) -> list[dict[str, Any]]:
        """Send ``commands`` (in order, ``COMMANDS_PER_MESSAGE`` per message) and return the
        answers in the same order. ``check``: DynsecError for the first refusal that is not
        harmless (``_HARMLESS``). DynsecError when an answer does not come within ``timeout``."""
        answers: list[dict[str, Any]] = []
        with self._lock:
            for start in range(0, len(commands), COMMANDS_PER_MESSAGE):
                answers += self._send(commands[start : start + COMMANDS_PER_MESSAGE], timeout)
        if check:
            for command, answer in zip(commands, answers, strict=True):
                if refused(command, answer):
                    raise DynsecError(f"dynsec {command['command']}: {answer['error']}")
        return answers

    def _send(self, batch: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        keys = [uuid.uuid4().hex for _ in batch]
        tagged = [dict(c, correlationData=k) for c, k in zip(batch, keys, strict=True)]
        payload = {"commands": tagged}
        try:
            self._client.publish(CONTROL_TOPIC, json.dumps(payload).encode(), timeout=timeout)
        except MqttError as exc:
            raise DynsecError(f"dynsec: command not sent: {exc}") from exc
        with self._answered:
            done = self._answered.wait_for(lambda: all(k in self._answers for k in keys), timeout)
            answers = [self._answers.pop(k, None) for k in keys]
        if not done:
            for key in keys:
                with self._answered:
                    self._answers.pop(key, None)
            raise DynsecError(f"dynsec: no answer within {timeout}s (is the plugin loaded?)")
        return [a for a in answers if a is not None]

    def list_clients(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._list("listClients", "clients", timeout)

    def list_roles(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._list("listRoles", "roles", timeout)

    def _list(self, command: str, key: str, timeout: float) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            [answer] = self.execute(
                [{"command": command, "verbose": True, "count": LIST_PAGE, "offset": len(items)}],
                timeout=timeout,
            )
            page = answer.get("data", {}).get(key, [])
            items += page
            total = answer.get("data", {}).get("totalCount", len(items))
            if not page or len(items) >= total:
                return items


def refused(command: dict[str, Any], answer: dict[str, Any]) -> bool:
    error = answer.get("error")
    return bool(error) and _HARMLESS.get(command["command"]) != error


def reconcile(
    admin: DynsecAdmin,
    accounts: Mapping[str, Account],
    *,
    tag: str,
    timeout: float = 10.0,
) -> ReconcileResult:
    """Make the clients tagged ``tag`` exactly ``accounts`` (module docstring)."""
    if admin.username in accounts:
        raise ValueError(f"the admin login {admin.username!r} cannot be a managed account")
    clients = {c["username"]: c for c in admin.list_clients(timeout)}
    roles = {r["rolename"]: r for r in admin.list_roles(timeout)}
    result = ReconcileResult()
    commands: list[dict[str, Any]] = []
    [current] = admin.execute([{"command": "getDefaultACLAccess"}], timeout=timeout)
    have = {a["acltype"]: a["allow"] for a in current.get("data", {}).get("acls", [])}
    if have != DEFAULT_ACCESS:
        acls = [{"acltype": k, "allow": v} for k, v in DEFAULT_ACCESS.items()]
        commands.append({"command": "setDefaultACLAccess", "acls": acls})
    for username, account in sorted(accounts.items()):
        role = role_name(tag, username)
        commands += _role_commands(role, account.acls, roles.get(role), result, username)
        commands += _client_commands(tag, role, account, clients.get(username), result)
    for username, client in sorted(clients.items()):
        if client.get("textname") == tag and username not in accounts:
            commands.append({"command": "deleteClient", "username": username})
            result.deleted.append(username)
    for rolename in sorted(roles):
        owner = rolename.removeprefix(tag + ":")
        if rolename.startswith(tag + ":") and owner not in accounts:
            commands.append({"command": "deleteRole", "rolename": rolename})
    if commands:
        answers = admin.execute(commands, timeout=timeout, check=False)
        for command, answer in zip(commands, answers, strict=True):
            if refused(command, answer):
                result.errors.append(f"{command['command']} {_subject(command)}: {answer['error']}")
    return result


def _subject(command: dict[str, Any]) -> str:
    return str(command.get("username") or command.get("rolename") or "")


def _role_commands(
    role: str,
    acls: tuple[Acl, ...],
    existing: dict[str, Any] | None,
    result: ReconcileResult,
    username: str,
) -> list[dict[str, Any]]:
    if existing is None:
        return [{"command": "createRole", "rolename": role, "acls": [a.to_dict() for a in acls]}]
    have = {
        Acl(a["acltype"], a["topic"], bool(a.get("allow", False)), int(a.get("priority", 0)))
        for a in existing.get("acls", [])
    }
    want = set(acls)
    if have == want:
        return []
    commands: list[dict[str, Any]] = [
        {"command": "removeRoleACL", "rolename": role, "acltype": a.acltype, "topic": a.topic}
        for a in sorted(have - want)
    ]
    commands += [
        {"command": "addRoleACL", "rolename": role, **a.to_dict()} for a in sorted(want - have)
    ]
    result.roles.append(username)
    return commands


def _client_commands(
    tag: str,
    role: str,
    account: Account,
    client: dict[str, Any] | None,
    result: ReconcileResult,
) -> list[dict[str, Any]]:
    username = account.username
    if client is None:
        if account.password is None:
            result.missing.append(username)
            return []
        result.created.append(username)
        return [
            {
                "command": "createClient",
                "username": username,
                "password": account.password,
                "textname": tag,
                "textdescription": account.fingerprint,
                "roles": [{"rolename": role}],
            }
        ]
    commands: list[dict[str, Any]] = []
    current = client.get("textdescription") == account.fingerprint
    if client.get("textname") != tag or not current:
        if account.password is not None:
            commands.append(
                {
                    "command": "modifyClient",
                    "username": username,
                    "password": account.password,
                    "textname": tag,
                    "textdescription": account.fingerprint,
                }
            )
            result.passwords.append(username)
            current = True
        elif not client.get("disabled"):
            # Its password changed and the new one is not known here: the old one must not
            # keep working.
            commands.append({"command": "disableClient", "username": username})
            result.disabled.append(username)
    has = {r.get("rolename") for r in client.get("roles", [])}
    if role not in has:
        commands.append({"command": "addClientRole", "username": username, "rolename": role})
    # Its own role only: a role or group added by hand would widen what it may do.
    for other in sorted(r for r in has if r and r != role):
        commands.append({"command": "removeClientRole", "username": username, "rolename": other})
    for group in sorted(g.get("groupname") for g in client.get("groups", []) if g.get("groupname")):
        commands.append({"command": "removeGroupClient", "groupname": group, "username": username})
    if (has - {role}) or client.get("groups"):
        result.roles.append(username)
    if current and client.get("disabled"):
        commands.append({"command": "enableClient", "username": username})
        result.enabled.append(username)
    return commands
