"""Who may see and change which marketing data.

A relationship manager sees only their own clients (``Client.rm_user_id``): their 360, tags,
events, tasks and the campaign rows about them. The head office's marketing team (role
``marketing``) and admins see every client, build segments and campaigns, export lists and read
every KPI. Anyone else (tellers, approvers, loaders, dealers, enterprises, clients) has no
business here. An object the caller may not see is "not found" (404), so that a client's
existence does not leak; an action a visible caller's role may not take is 403.
"""

from __future__ import annotations

from sqlalchemy import Select, exists, false
from sqlalchemy.orm import Session

from backend.marketing.models import Client, Task
from backend.platform.context import Actor
from backend.platform.errors import NotFound
from backend.platform.permissions import ensure_role

TEAM = ("marketing", "admin")  # sees every client, runs segments and campaigns
READERS = ("rm", "marketing", "admin")


def is_team(actor: Actor) -> bool:
    return actor.role in TEAM or actor.is_admin


def ensure_team(actor: Actor) -> None:
    """Only the marketing team (and admins) build segments and campaigns, export, train."""
    ensure_role(actor, *TEAM)


def ensure_reader(actor: Actor) -> None:
    ensure_role(actor, *READERS)


def can_see_client(actor: Actor, client: Client) -> bool:
    if is_team(actor):
        return True
    return (
        actor.role == "rm" and client.rm_user_id is not None and client.rm_user_id == actor.user_id
    )


def scope_clients(stmt: Select, actor: Actor) -> Select:
    """Only the clients the caller may see (a select over ``Client``)."""
    if is_team(actor):
        return stmt
    if actor.role == "rm" and actor.user_id is not None:
        return stmt.where(Client.rm_user_id == actor.user_id)
    return stmt.where(false())


def scope_tasks(stmt: Select, actor: Actor) -> Select:
    """Only the tasks the caller may see: an RM their own tasks of clients still theirs (a
    client handed to another RM takes their data away from the task's RM), the team every
    one."""
    if is_team(actor):
        return stmt
    if actor.role == "rm" and actor.user_id is not None:
        return stmt.where(
            Task.rm_user_id == actor.user_id,
            exists().where(Client.id == Task.client_id, Client.rm_user_id == actor.user_id),
        )
    return stmt.where(false())


def get_client(session: Session, actor: Actor, client_id: int) -> Client:
    """The client, if the caller may see it; else NotFound ``client_not_found``."""
    client = session.get(Client, client_id)
    if client is None or not can_see_client(actor, client):
        raise NotFound("client not found", code="client_not_found")
    return client


def get_task(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> Task:
    """The task, if it is the caller's (an RM's own, of a client still theirs) or the caller
    is the team; else 404."""
    task = session.get(Task, task_id, with_for_update=lock, populate_existing=lock)
    if task is None or not (
        is_team(actor)
        or (
            actor.role == "rm"
            and task.rm_user_id == actor.user_id
            and can_see_client(actor, session.get(Client, task.client_id))
        )
    ):
        raise NotFound("task not found", code="task_not_found")
    return task
