"""Live updates over Socket.IO (namespace ``/live``).

On connect the client's JWT is checked (``auth={"token": ...}``; see docs/web.md) against the
user's row and the socket joins the rooms of ``socket_rooms``: ``user:<id>``, ``org:<id>``,
``role:<role>`` and, for staff with a branch, ``branch:<code>:<role>`` (never a bare
``branch:<code>``: a branch's staff hear of an object only where their role may read it).

Services never touch Socket.IO: they call a ``LiveEmitter`` and name the audience with
``rooms_for`` (``user:``, ``org:``, ``role:`` and the logical ``branch:<code>``). Each declared
event carries an ``Audience`` (its area's ``LiveEvent.rule``): the rooms it may reach, which
mirror who may read the same object over REST. The Socket.IO emitter (backend/roles/live.py)
routes every send through it: a ``branch:<code>`` becomes ``branch:<code>:<role>`` for the
roles the event allows, and a room the rule does not allow is dropped and logged (fail
closed). With REDIS_URL set the emitter publishes through the Redis message queue, so
background workers and several backend processes reach every connected client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = "/live"


def rooms_for(
    *,
    users: Iterable[int] = (),
    orgs: Iterable[int] = (),
    branches: Iterable[str] = (),
    roles: Iterable[str] = (),
) -> list[str]:
    return (
        [f"user:{u}" for u in users]
        + [f"org:{o}" for o in orgs]
        + [f"branch:{b}" for b in branches]
        + [f"role:{r}" for r in roles]
    )


def branch_room(branch_id: str, role: str) -> str:
    """The room of the staff of ``branch_id`` who hold ``role``."""
    return f"branch:{branch_id}:{role}"


def socket_rooms(
    user_id: int, role: str, org_id: int | None = None, branch_id: str | None = None
) -> list[str]:
    """The rooms a connected socket of this user joins (and only these)."""
    rooms = [f"user:{user_id}", f"role:{role}"]
    if org_id is not None:
        rooms.append(f"org:{org_id}")
    if branch_id:
        rooms.append(branch_room(branch_id, role))
    return rooms


@dataclass(frozen=True)
class Audience:
    """Who a live event may reach: the same people who may read its object over REST.

    ``users``: personal rooms (``user:<id>``; the service names the people REST lets see the
    object). ``orgs``: every user of a named org (``org:<id>``). ``roles``: the global rooms
    ``role:<role>`` of these roles. ``branch_roles``: what is sent to ``branch:<code>`` reaches
    the branch's staff of these roles only. Anything else named is dropped."""

    users: bool = False
    orgs: bool = False
    roles: tuple[str, ...] = ()
    branch_roles: tuple[str, ...] = ()

    def route(self, rooms: Iterable[str]) -> tuple[list[str], list[str]]:
        """(the Socket.IO rooms to send to, the named rooms refused)."""
        routed: list[str] = []
        refused: list[str] = []
        for room in rooms:
            kind, _, rest = room.partition(":")
            personal = kind == "user" and self.users
            if personal or (kind == "org" and self.orgs) or (kind == "role" and rest in self.roles):
                routed.append(room)
            elif kind == "branch" and rest and ":" not in rest and self.branch_roles:
                routed.extend(branch_room(rest, role) for role in self.branch_roles)
            else:
                refused.append(room)
        return list(dict.fromkeys(routed)), refused

    def describe(self) -> dict[str, Any]:
        """The rule as the OpenAPI document shows it (``x-live-events``)."""
        return {
            "users": self.users,
            "orgs": self.orgs,
            "roles": list(self.roles),
            "branch_roles": list(self.branch_roles),
        }


Renderer = Callable[[Any], dict[str, Any]]


class LiveEmitter:
    """Sends live events to rooms. ``render`` turns what a service hands over (an object, or a
    dict) into the event's JSON payload with the renderer the event's area declared (the same
    response schema the HTTP API uses for that object); an event without a renderer takes a
    JSON-ready dict as it is. ``send`` delivers a rendered payload; ``emit`` does both."""

    def __init__(
        self,
        renderers: Mapping[str, Renderer | None] | None = None,
        audiences: Mapping[str, Audience] | None = None,
    ) -> None:
        self.renderers: dict[str, Renderer | None] = dict(renderers or {})
        self.audiences: dict[str, Audience] = dict(audiences or {})

    def route(self, event: str, rooms: Iterable[str]) -> list[str]:
        """The Socket.IO rooms ``event`` goes to when a service names ``rooms``: only those its
        ``Audience`` allows (an event without one reaches nobody)."""
        audience = self.audiences.get(event)
        if audience is None:
            log.error("live event %s has no audience rule: not sent", event)
            return []
        routed, refused = audience.route(rooms)
        if refused:
            log.error("live event %s may not reach %s: dropped", event, ", ".join(refused))
        return routed

    def render(self, event: str, data: Any) -> dict[str, Any]:
        renderer = self.renderers.get(event)
        if renderer is not None:
            return renderer(data)
        if isinstance(data, Mapping):
            return dict(data)
        raise TypeError(f"live event {event!r} has no renderer for {type(data).__name__}")

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        raise NotImplementedError

    def emit(self, event: str, data: Any, *, rooms: list[str]) -> None:
        if rooms:
            self.send(event, self.render(event, data), rooms=rooms)


class RecordingEmitter(LiveEmitter):
    """For tests and jobs run by hand: keeps what would have been sent."""

    def __init__(self, renderers: Mapping[str, Renderer | None] | None = None) -> None:
        super().__init__(renderers)
        self.sent: list[tuple[str, dict, list[str]]] = []

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        self.sent.append((event, payload, list(rooms)))

    def emit(self, event: str, data: Any, *, rooms: list[str]) -> None:
        self.send(event, self.render(event, data), rooms=rooms)


class NullEmitter(LiveEmitter):
    """Where nobody listens (a CLI run without Redis): events are dropped, data stays stored."""

    def send(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        log.debug("no live emitter: %s to %s dropped", event, rooms)
