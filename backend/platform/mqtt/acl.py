"""Logins and a topic ACL for the embedded amqtt brokers: the central one and the branch ones.

``EmbeddedBroker`` (broker.py) checks passwords only. ``AclBroker`` hands both decisions to an
``Access`` object through two amqtt plugins of this module, given to the broker as its
``plugins`` (amqtt 0.12.1):

- ``authenticate(username, password)`` at CONNECT;
- ``allowed(username, topic, action)`` for every PUBLISH (``topic`` is the message's topic),
  SUBSCRIBE (``topic`` is the filter) and delivery to a subscriber (``receive``). A refused
  publish is dropped silently, as Mosquitto does (the publisher still gets its PUBACK); a
  refused subscription gets a failure SUBACK; a refused delivery is skipped.

Two kinds of Access: ``edge.branch_broker.BranchAccess`` (per-device rules of one branch) and
``MosquittoAclAccess`` here: a password table plus the ``user``/``topic`` rules of a Mosquitto
``acl_file``, with Mosquitto's meaning, which ``finedge serve`` gives the rules of
deploy/mosquitto/central/acl (``backend.platform.mqtt.central``).

Once a topic plugin is loaded, two amqtt 0.12.1 bugs show; ``AclTopicPlugin`` guards both:

- amqtt awaits (the RECEIVE check, retained replays) while iterating its live subscription
  dict; a client subscribing meanwhile raises "dictionary changed size during iteration",
  which drops the message being broadcast for the remaining subscribers, or disconnects the
  client being connected. The dict is swapped for one that iterates over a snapshot, before
  any client connects;
- on connect amqtt replays retained messages matching *every* subscription in the broker
  (another client's ``fe/v1/#`` included) without any ACL check, and on subscribe it sends the
  retained messages the filter matches without the RECEIVE check. Replays are limited to
  filters the connecting login may itself subscribe to; ``allowed(.., "subscribe")`` must
  therefore only grant a filter whose every topic the login may receive.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from backend.platform.mqtt.broker import EmbeddedBroker, PasswordTable
from backend.platform.mqtt.names import topic_matches

log = logging.getLogger(__name__)

PUBLISH, SUBSCRIBE, RECEIVE = "publish", "subscribe", "receive"


class Access(Protocol):
    """Who may log in, and which topics each login may publish, subscribe to and receive."""

    def authenticate(self, username: str | None, password: str | None) -> bool: ...

    def allowed(self, username: str | None, topic: str, action: str) -> bool: ...

    def set_user(self, username: str, password: str) -> None: ...

    def remove_user(self, username: str) -> None: ...


# Per-broker Access objects, keyed by an opaque token handed to the plugins through the config.
_ACCESS: dict[str, Access] = {}


class AclAuthPlugin(BaseAuthPlugin):
    """amqtt auth plugin: ``Access.authenticate``."""

    @dataclass
    class Config:
        access: str = ""

    async def authenticate(self, *, session: Session) -> bool:
        token = self.context.config.access
        access = _ACCESS.get(token)
        if access is not None and access.authenticate(session.username, session.password):
            return True
        _refusals.note(token, session.username)
        return False


REFUSALS_SUMMARY_S = 60.0


class _Refusals:
    """Refused logins, logged at most once a minute per broker at INFO (with how many others
    there were), the others at DEBUG: devices that start before their edge has the registry
    retry every few seconds each, and a line per attempt buried the rest of the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def note(self, token: str, username: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(token)
            if last is not None and now - last < REFUSALS_SUMMARY_S:
                self._since[token] = self._since.get(token, 0) + 1
                others = None
            else:
                self._last[token] = now
                others = self._since.pop(token, 0)
        if others is None:
            log.debug("embedded broker refused login %r", username)
        else:
            log.info(
                "embedded broker refused login %r%s (further refusals within %.0f s at DEBUG)",
                username,
                f"; {others} other refusals since the last such line" if others else "",
                REFUSALS_SUMMARY_S,
            )


_refusals = _Refusals()


class _SnapshotDict(dict):
    """A dict whose iteration and ``items()`` work on a snapshot (see AclTopicPlugin)."""

    def __iter__(self):
        return iter(list(super().keys()))

    def items(self):  # type: ignore[override]
        return list(super().items())


class AclTopicPlugin(BaseTopicPlugin):
    """amqtt topic plugin: ``Access.allowed``, plus the guards of the module docstring."""

    @dataclass
    class Config:
        access: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        broker = getattr(context, "_broker_instance", None)
        if broker is None:
            return
        if type(broker._subscriptions) is dict:
            broker._subscriptions = _SnapshotDict(broker._subscriptions)
        replay = broker._publish_retained_messages_for_subscription
        token = self.context.config.access

        async def guarded_replay(subscription: tuple[str, int], session: Session) -> None:
            access = _ACCESS.get(token)
            if access is not None and access.allowed(session.username, subscription[0], SUBSCRIBE):
                await replay(subscription, session)

        broker._publish_retained_messages_for_subscription = guarded_replay

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Any = None
    ) -> bool:
        access = _ACCESS.get(self.context.config.access)
        username = session.username if session else None
        ok = bool(topic) and access is not None and access.allowed(username, topic, str(action))
        if not ok and action != Action.RECEIVE:
            log.info("embedded broker ACL refused %s of %s by %r", action, topic, username)
        return ok


class AclBroker(EmbeddedBroker):
    """EmbeddedBroker whose logins and topic rights ``access`` decides (read live)."""

    def __init__(self, access: Access, host: str = "127.0.0.1", port: int = 0, **kwargs: Any):
        token = secrets.token_hex(8)
        plugins = {
            f"{__name__}.AclAuthPlugin": {"access": token},
            f"{__name__}.AclTopicPlugin": {"access": token},
        }
        super().__init__(host, port, users=None, allow_anonymous=False, plugins=plugins, **kwargs)
        self.access = access
        self._access_token = token

    def start(self) -> AclBroker:
        _ACCESS[self._access_token] = self.access
        try:
            super().start()
        except BaseException:
            _ACCESS.pop(self._access_token, None)
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)
        _ACCESS.pop(self._access_token, None)

    def add_user(self, username: str, password: str) -> None:
        self.access.set_user(username, password)

    def remove_user(self, username: str) -> None:
        self.access.remove_user(username)


# --------------------------------------------------------------------------- Mosquitto's ACL

_ACCESS_TYPES = {"read": {RECEIVE, SUBSCRIBE}, "write": {PUBLISH}, "deny": set()}
_ACCESS_TYPES["readwrite"] = _ACCESS_TYPES["read"] | _ACCESS_TYPES["write"]


@dataclass(frozen=True)
class AclRule:
    access: str  # read | write | readwrite | deny
    topic: str  # a topic filter


def parse_acl(text: str) -> dict[str, tuple[AclRule, ...]]:
    """The rules of a Mosquitto ``acl_file``, per user, in file order.

    Understood: ``user <name>`` and, after it, ``topic [read|write|readwrite|deny] <filter>``
    (no access type means readwrite), comments and blank lines. Anything else (``pattern``,
    rules for anonymous clients before the first ``user``) raises ValueError rather than being
    silently ignored.
    """
    rules: dict[str, list[AclRule]] = {}
    user: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split(None, 1)
        if words[0] == "user" and len(words) == 2:
            user = words[1].strip()
            rules.setdefault(user, [])
            continue
        if words[0] == "topic" and len(words) == 2 and user is not None:
            parts = words[1].split(None, 1)
            access, topic = (
                (parts[0], parts[1].strip()) if len(parts) == 2 else ("readwrite", parts[0])
            )
            if access in _ACCESS_TYPES and topic:
                rules[user].append(AclRule(access, topic))
                continue
        raise ValueError(f"acl line {number}: not understood here: {line!r}")
    return {name: tuple(user_rules) for name, user_rules in rules.items()}


def filter_covers(outer: str, inner: str) -> bool:
    """Every topic that filter ``inner`` matches is matched by filter ``outer``."""
    outer_levels, inner_levels = outer.split("/"), inner.split("/")
    for index, level in enumerate(outer_levels):
        if level == "#":
            return True
        if index >= len(inner_levels) or inner_levels[index] == "#":
            return False
        if level != "+" and inner_levels[index] != level:
            return False
    return len(inner_levels) == len(outer_levels)


def filters_overlap(first: str, second: str) -> bool:
    """Some topic is matched by both filters."""
    a, b = first.split("/"), second.split("/")
    for index in range(max(len(a), len(b))):
        if index >= len(a) or index >= len(b):
            rest = (b if index >= len(a) else a)[index:]
            return rest == ["#"]  # "x/#" also matches "x"
        x, y = a[index], b[index]
        if "#" in (x, y):
            return True
        if "+" not in (x, y) and x != y:
            return False
    return True


class MosquittoAclAccess:
    """Passwords and the rules of a Mosquitto ``acl_file``, with Mosquitto's meaning.

    A login has no rights but its ``user`` block's. Publishing needs a matching ``write`` or
    ``readwrite`` rule, receiving a matching ``read`` or ``readwrite`` one; a matching ``deny``
    rule refuses both first. Subscribing is stricter than Mosquitto 2.0 (which grants every
    SUBACK and filters each delivery): the filter must lie inside one rule granting read and
    overlap no ``deny`` rule, so a retained replay (see the module docstring) never shows a
    topic the login may not read. Thread-safe; ``set_acl`` and the user methods apply to the
    next CONNECT, PUBLISH or delivery.
    """

    def __init__(self, acl: str = "", users: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[AclRule, ...]] = parse_acl(acl)
        self._passwords = PasswordTable(users)

    def set_acl(self, acl: str) -> None:
        rules = parse_acl(acl)
        with self._lock:
            self._rules = rules

    def set_users(self, users: dict[str, str]) -> None:
        """Exactly these logins from now on."""
        self._passwords.replace(users)

    def set_user(self, username: str, password: str) -> None:
        self._passwords.set(username, password)

    def remove_user(self, username: str) -> None:
        self._passwords.remove(username)

    def authenticate(self, username: str | None, password: str | None) -> bool:
        return bool(username) and self._passwords.check(username or "", password)

    def allowed(self, username: str | None, topic: str, action: str) -> bool:
        if not username or not topic:
            return False
        with self._lock:
            rules = self._rules.get(username, ())
        if action == SUBSCRIBE:
            if any(r.access == "deny" and filters_overlap(r.topic, topic) for r in rules):
                return False
            return any(
                SUBSCRIBE in _ACCESS_TYPES[r.access] and filter_covers(r.topic, topic)
                for r in rules
            )
        if action not in (PUBLISH, RECEIVE) or "+" in topic or "#" in topic:
            return False
        if any(r.access == "deny" and topic_matches(r.topic, topic) for r in rules):
            return False
        return any(
            action in _ACCESS_TYPES[r.access] and topic_matches(r.topic, topic) for r in rules
        )
