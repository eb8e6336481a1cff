"""User administration (admin only): list, create, change role, org or branch, disable and
enable, unlock after a lock-out, reset a password.

Every change is audited; a change that takes rights away revokes the user's tokens at once
(HTTP and Socket.IO). Idempotency-Key works here as on every POST and PATCH.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from backend.identity import queries
from backend.identity import service as identity
from backend.identity.rules import MAX_PASSWORD, USER_ROLES, LoginLimits
from backend.platform.clock import utcnow
from backend.platform.errors import ValidationFailed
from backend.platform.permissions import ensure_role
from miniapp_api.common import PageArgs, StrictSchema, Timestamp, current_actor, db, page_schema
from miniapp_api.responses import errors
from miniapp_api.strict_input import Blueprint

blp = Blueprint(
    "users",
    __name__,
    url_prefix="/api/v1/admin/users",
    description="Users: create, list, change role, disable, unlock, reset password (admin only)",
)

ROLE = ma.validate.OneOf(USER_ROLES)
TEXTS = {
    403: "The caller is not an admin",
    404: "No such user (user_not_found) or org (org_not_found)",
    409: "user_exists, last_admin, own_account, or an Idempotency-Key reused with another body",
}


def documented(*statuses: int):
    return errors(blp, *statuses, texts=TEXTS)


class UserAdminOut(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    role = ma.fields.String()
    org_id = ma.fields.Integer()
    branch_id = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    created_at = Timestamp()
    locked_until = Timestamp(
        allow_none=True,
        metadata={"description": "Until when failed logins lock the account out (else null)"},
    )


class UserListArgs(PageArgs):
    org_id = ma.fields.Integer()
    role = ma.fields.String(validate=ROLE)
    branch_id = ma.fields.String(validate=ma.validate.Length(max=20))
    active = ma.fields.Boolean()
    username = ma.fields.String(
        validate=ma.validate.Length(min=1, max=80), metadata={"description": "prefix"}
    )


class NewUser(StrictSchema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=MAX_PASSWORD)
    )
    role = ma.fields.String(required=True)
    org_id = ma.fields.Integer(required=True)
    branch_id = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(max=20)
    )


class UserChange(StrictSchema):
    role = ma.fields.String(validate=ROLE)
    org_id = ma.fields.Integer()
    branch_id = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=20),
        metadata={"description": "Left out: kept while the user stays staff of the same org"},
    )


class NewPassword(StrictSchema):
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=MAX_PASSWORD)
    )


def _admin():
    actor = current_actor()
    ensure_role(actor, "admin")
    return actor


FIELDS = ("id", "username", "role", "org_id", "branch_id", "active", "created_at")


def _with_lockout(users: list) -> list[dict]:
    """The users as UserAdminOut renders them, each with its lock-out (one query)."""
    cfg = current_app.extensions["finedge"].config
    limits = LoginLimits.of(cfg)
    locked = queries.lockouts(db(), [u.username for u in users], limits, utcnow())
    return [
        {**{f: getattr(u, f) for f in FIELDS}, "locked_until": locked.get(u.username)}
        for u in users
    ]


@blp.route("")
class Users(MethodView):
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, page_schema(UserAdminOut, "UserAdminPage"))
    @documented(400, 401, 403)
    def get(self, args):
        """Users by id, a cursor page, filtered by org, role, branch, active or username
        prefix; each with its lock-out, if any."""
        _admin()
        page = queries.list_users(
            db(),
            org_id=args.get("org_id"),
            role=args.get("role"),
            branch_id=args.get("branch_id"),
            active=args.get("active"),
            username_prefix=args.get("username"),
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": _with_lockout(page.items), "next_cursor": page.next_cursor}

    @blp.arguments(NewUser)
    @blp.response(201, UserAdminOut)
    @documented(400, 401, 403, 404, 409)
    def post(self, body):
        """Create a user in an org: a role its kind of org may hold (a teller in the bank or a
        branch org, a dealer in a dealer org ...), branch staff with a branch of that org."""
        actor = _admin()
        session = db()
        org = identity.get_org(session, body["org_id"])
        user = identity.create_user(
            session,
            actor,
            username=body["username"],
            password=body["password"],
            role=body["role"],
            org=org,
            branch_id=body["branch_id"],
        )
        return _with_lockout([user])[0]


@blp.route("/<int:user_id>")
class UserOne(MethodView):
    @blp.response(200, UserAdminOut)
    @documented(401, 403, 404)
    def get(self, user_id):
        """One user, with its lock-out, if any."""
        _admin()
        return _with_lockout([identity.get_user(db(), user_id)])[0]

    @blp.arguments(UserChange)
    @blp.response(200, UserAdminOut)
    @documented(400, 401, 403, 404, 409)
    def patch(self, body, user_id):
        """Change a user's role, org or branch. Their tokens stop working at once (HTTP and
        Socket.IO) and they log in again. The last active admin cannot be demoted."""
        actor = _admin()
        if not body:
            raise ValidationFailed(
                "nothing to change", details={"role": ["role, org_id or branch_id"]}
            )
        kwargs = {"role": body.get("role"), "org_id": body.get("org_id")}
        if "branch_id" in body:
            kwargs["branch_id"] = body["branch_id"]
        user = identity.change_user(db(), actor, user_id, **kwargs)
        return _with_lockout([user])[0]


def _action(doc: str, use_case, *statuses: int):
    @blp.response(200, UserAdminOut)
    @documented(*statuses)
    def post(self, user_id):
        return _with_lockout([use_case(db(), _admin(), user_id)])[0]

    post.__doc__ = doc
    return post


@blp.route("/<int:user_id>/disable")
class Disable(MethodView):
    post = _action(
        "Disable a user: login is refused and every token stops working at once (HTTP and "
        "Socket.IO). The last active admin, and one's own account, cannot be disabled.",
        lambda s, a, uid: identity.set_active(s, a, uid, False),
        401,
        403,
        404,
        409,
    )


@blp.route("/<int:user_id>/enable")
class Enable(MethodView):
    post = _action(
        "Enable a disabled user again; tokens from before stay revoked: they log in anew.",
        lambda s, a, uid: identity.set_active(s, a, uid, True),
        401,
        403,
        404,
    )


@blp.route("/<int:user_id>/unlock")
class Unlock(MethodView):
    post = _action(
        "End a lock-out after failed logins: the account's failures are forgotten.",
        identity.unlock,
        401,
        403,
        404,
    )


@blp.route("/<int:user_id>/reset-password")
class ResetPassword(MethodView):
    @blp.arguments(NewPassword)
    @blp.response(200, UserAdminOut)
    @documented(400, 401, 403, 404)
    def post(self, body, user_id):
        """Set a new password: the user's tokens stop working and a lock-out ends."""
        user = identity.reset_password(db(), _admin(), user_id, body["password"])
        return _with_lockout([user])[0]
